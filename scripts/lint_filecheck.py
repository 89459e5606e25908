#!/usr/bin/python3
"""lint_filecheck.py - flags FileCheck directives that FileCheck would silently ignore.

A directive missing its colon (`// CHECK-LABEL @f`, `# CHECK qopt.add`) is not an error to FileCheck:
the line is skipped and the test checks less than it says. Prefixes come from each file's RUN lines
(`--check-prefix(es)=`) plus CHECK. Prints one line per problem; exits 1 if there is any.
"""
import pathlib
import re
import sys

SUFFIXES = {".mlir", ".onnxtxt", ".test"}
MODIFIERS = r"(-(NOT|SAME|DAG|NEXT|LABEL|EMPTY|COUNT-\d+))?"


def prefixes(text):
    found = {"CHECK"}
    for m in re.finditer(r"--check-prefix(?:es)?[= ]([A-Za-z0-9_,-]+)", text):
        found.update(m.group(1).split(","))
    return found


def lint(path):
    text = path.read_text(errors="replace")
    names = "|".join(sorted(map(re.escape, prefixes(text)), key=len, reverse=True))
    bad = re.compile(rf"^\s*(//|#)\s*({names}){MODIFIERS}(\s+[^:\s]|\s*$)")
    problems = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if bad.match(line):
            problems.append(f"{path}:{lineno}: FileCheck directive without a colon: {line.strip()}")
    return problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "test")
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix in SUFFIXES and "fixtures" not in path.parts:
            problems += lint(path)
    print("\n".join(problems) if problems else f"FileCheck directives in {root}: all well-formed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
