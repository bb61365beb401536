"""pytest plugin for run.py: leaves out the tests listed as out of scope or deliberate, runs
those listed to fix as strict expected failures, and counts them."""

from __future__ import annotations

import pathlib
from typing import Dict, List, Tuple

import pytest

HERE = pathlib.Path(__file__).resolve().parent
LISTS = {"out of scope": "out-of-scope.txt", "deliberate": "deliberate.txt", "to fix": "to-fix.txt"}


def _entries(file: str) -> List[Tuple[str, str]]:
    """(node id or file, reason) per line; `#` starts the reason."""
    out = []
    for line in (HERE / file).read_text().splitlines():
        entry, _, reason = line.partition("#")
        if entry.strip():
            out.append((entry.strip(), reason.strip()))
    return out


ENTRIES: Dict[str, List[Tuple[str, str]]] = {kind: _entries(f) for kind, f in LISTS.items()}
COUNTS: Dict[str, int] = {kind: 0 for kind in LISTS}
FILES: Dict[str, int] = {kind: 0 for kind in LISTS}


def _listed(nodeid: str) -> Tuple[str, str] | None:
    for kind, entries in ENTRIES.items():
        for entry, reason in entries:
            if nodeid == entry or nodeid.startswith(entry + "::") or (
                "::" not in entry and nodeid.startswith(entry)
            ):
                return kind, reason
    return None


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    """A whole file listed (one that cannot even be imported here) is not collected."""
    rel = collection_path.relative_to(config.rootpath).as_posix()
    for kind, entries in ENTRIES.items():
        if any(entry == rel for entry, _ in entries):
            FILES[kind] += 1
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    kept, left_out = [], []
    for item in items:
        listed = _listed(item.nodeid)
        if listed is None:
            kept.append(item)
            continue
        kind, reason = listed
        COUNTS[kind] += 1
        if kind == "to fix":
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            kept.append(item)
        else:
            left_out.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
    items[:] = kept


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    stats = terminalreporter.stats
    terminalreporter.write_line(
        f"original suite: passed: {len(stats.get('passed', []))}, "
        f"skipped by the suite: {len(stats.get('skipped', []))}, "
        + ", ".join(
            f"{kind}: {COUNTS[kind]} tests" + (f" and {FILES[kind]} files" if FILES[kind] else "")
            for kind in LISTS
        )
    )
