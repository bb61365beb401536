"""Runs the original aitaem's own test suite against this package: the drop-in contract.

The suite is the one published with the original on PyPI (the sdist of ``aitaem==2.1.0``,
checked against its SHA-256), downloaded once into ``~/.cache/aitaem/original/``. Its ``tests/``
(without ``tests/test_agent`` and ``tests/evals``: the LLM module is out of scope) and
``examples/`` are unpacked into a temporary directory, ``adapted.patch`` is applied to them (the
fixtures that made their tables through the original's internals; each change is marked
``# adapted:``), and pytest runs them with the package installed in this
Python, as the original's users would, with the original's pytest settings.

Tests are listed, with a reason each, in:

- ``out-of-scope.txt``: tests of the original's internals (its ibis query builder and executor,
  private helpers, ibis mocks); not run.
- ``deliberate.txt``: documented, deliberate differences (docs/python.md); not run.
- ``to-fix.txt``: differences not fixed yet; run as expected failures, so that a fixed one fails
  the run until it is taken off the list.

Exits non-zero when a test that is not listed fails. Extra arguments go to pytest.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile

VERSION = "2.1.0"
SHA256 = "53c72f5add984eabd5b457b9212cd89ebd6eec11f8b2f2d78b9278cb56bc72e8"
HERE = pathlib.Path(__file__).resolve().parent
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "aitaem" / "original"
LEFT_OUT = ("tests/test_agent/", "tests/evals/")


def sdist() -> pathlib.Path:
    """The original's sdist, downloaded from PyPI once and checked."""
    path = CACHE / f"aitaem-{VERSION}.tar.gz"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"aitaem=={VERSION}", "--dest", str(CACHE)],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        path.unlink()
        sys.exit(f"run.py: {path.name} has SHA-256 {digest}, expected {SHA256}; removed it, try again")
    return path


def unpack(archive: pathlib.Path, into: pathlib.Path) -> None:
    """The suite's tests and the example data they read; never the original's package."""
    prefix = f"aitaem-{VERSION}/"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix(prefix)
            if not name.startswith(("tests/", "examples/")) or name.startswith(LEFT_OUT):
                continue
            if not member.isfile():
                continue
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    subprocess.run(["git", "apply", str(HERE / "adapted.patch")], cwd=into, check=True)


def main() -> int:
    archive = sdist()
    with tempfile.TemporaryDirectory(prefix="aitaem-original-") as tmp:
        root = pathlib.Path(tmp)
        unpack(archive, root)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ))
        command = [
            sys.executable, "-m", "pytest", "-p", "listed", "-p", "no:cacheprovider",
            "--rootdir", str(root), "-o", "testpaths=tests",
            "-o", "markers=integration: needs external resources",
            "-m", "not integration", "-q", "-rfE", str(root / "tests"), *sys.argv[1:],
        ]
        return subprocess.run(command, cwd=root, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
