#!/usr/bin/env python3
"""validate-json.py [--lines] SCHEMA [FILE...] - validate pinmm's JSON output
against its JSON Schema (docs/schema/) with a real validator (python3-jsonschema).

FILE '-' or none reads stdin. --lines: JSON Lines, a document a line
(pinmm host --json). --available: only whether a validator is there.
Exit 0 valid, 1 invalid (each error printed), 2 bad usage or unreadable
input, 4 jsonschema missing (scripts/test-deps.sh installs it).
"""
import json
import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import jsonschema
except ImportError:
    # a venv's or pyenv's python3 first on PATH lacks Debian's module
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) \
            and os.access(DEBIAN_PYTHON, os.X_OK):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
    print("validate-json: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(4)


def documents(path, lines):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    if not lines:
        return [(path, json.loads(text))]
    return [(f"{path}:{n}", json.loads(line))
            for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def main(argv):
    if argv == ["--available"]:
        return 0
    lines = bool(argv) and argv[0] == "--lines"
    args = argv[1:] if lines else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    try:
        docs = [d for path in (args[1:] or ["-"]) for d in documents(path, lines)]
    except (OSError, ValueError) as e:
        print(f"validate-json: {e}", file=sys.stderr)
        return 2
    if not docs:
        print("validate-json: no document to validate", file=sys.stderr)
        return 2
    for where, doc in docs:
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            loc = "/".join(str(p) for p in err.absolute_path) or "(root)"
            print(f"{where}: {loc}: {err.message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
