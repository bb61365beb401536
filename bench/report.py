"""RESULTS.md is written by several benchmarks, each owning one part: run.py the part before the
first `## ` heading, postgres.py and python.py a `## ` section each."""

import os
import re


def write_part(path, heading, text):
    """Replaces the part of `path` that `heading` owns with `text` (which starts with that heading,
    or, for heading None, is the part before the first `## ` heading); adds it when missing."""
    previous = open(path).read() if os.path.exists(path) else ""
    parts = re.split(r"(?m)^(?=## )", previous)
    head, sections = parts[0], parts[1:]
    text = text.rstrip() + "\n"
    if heading is None:
        head = text
    else:
        for i, section in enumerate(sections):
            if section.startswith(heading + "\n"):
                sections[i] = text
                break
        else:
            sections.append(text)
    out = [head.rstrip() + "\n"] + [s.rstrip() + "\n" for s in sections]
    with open(path, "w") as f:
        f.write("\n".join(p for p in out if p.strip()))
