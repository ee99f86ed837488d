#!/usr/bin/env python3
"""ktap-verdict.py KUNIT_DIR [FILE] - read KTAP with the kernel's own parser
(KUNIT_DIR/kunit_parser.py, tools/testing/kunit/ of a kernel tree) and
judge it as CI would.

Exit 0 when the parser found no error, every test has a result, the
leaf counts it found are those of the closing kselftest line
"# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N", and every line
is indented two spaces a nesting level (ktap.rst; the parser itself lets
indentation pass); 1 otherwise
(the reason on stdout). The parser's own report goes to stderr. Prints
"status: STATUS" (SUCCESS, FAILURE, SKIPPED, ...) as the last line.
"""
import contextlib
import re
import sys

TOTALS = re.compile(r"^# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) xpass:(\d+) "
                    r"skip:(\d+) error:(\d+)$")

RESULT = re.compile(r"^(ok|not ok) [0-9]+")


def misindented(lines):
    """Numbers of the lines not at two spaces a level: a version line opens
    a level, a result line one level out closes it."""
    depth = -1
    for n, line in enumerate(lines, 1):
        body = line.rstrip("\n").lstrip(" ")
        indent = len(line) - len(line.lstrip(" "))
        if not body:
            continue
        if body.startswith("KTAP version"):
            depth += 1
        elif depth > 0 and RESULT.match(body) and indent == 2 * (depth - 1):
            depth -= 1
            continue
        if indent != 2 * max(depth, 0):
            yield n


def main(argv):
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, argv[0])
    import kunit_parser  # the kernel's, not ours

    with open(argv[1] if len(argv) > 1 else "/dev/stdin", encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    with contextlib.redirect_stdout(sys.stderr):
        test = kunit_parser.parse_run_tests(lines)
    c = test.counts
    problems = []
    if c.errors:
        problems.append(f"the parser found {c.errors} error(s)")
    if c.crashed:
        problems.append(f"{c.crashed} test(s) without a result")
    totals = [m for m in (TOTALS.match(line.rstrip("\n")) for line in lines) if m]
    if len(totals) != 1 or lines[-1].rstrip("\n") != totals[0].group(0):
        problems.append("not one '# Totals:' line, at the end")
    else:
        t = [int(x) for x in totals[0].groups()]
        got = [c.passed, c.failed, 0, 0, c.skipped, c.crashed]
        # XFAIL results are "ok", so the parser counts them as passed
        want = [t[0] + t[2], t[1], 0, t[3], t[4], t[5]]
        if got != want:
            problems.append(f"the parser counted pass:{c.passed} fail:{c.failed} "
                            f"skip:{c.skipped}, the Totals line says {totals[0].group(0)}")
    bad = list(misindented(lines))
    if bad:
        problems.append(f"line {bad[0]}: not indented two spaces a level")
    for p in problems:
        print(f"ktap-verdict: {p}")
    print(f"status: {test.status.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
