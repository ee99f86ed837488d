#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/mutate.sh - mutation testing of the engine's logic, no external tool.
#
# Picks a deterministic (seeded) sample of mutation sites in
# src/{mem,mm,gup,daemons,check}/*.c, skipping the policy switch guards
# (lines holding `pm_policy(` or `PINMM_SW_`), comments and preprocessor
# lines, and applies one simple mutation per site:
#   cmp      flip a comparison: == <-> !=, < <-> <=, > <-> >=
#   logic    && <-> ||
#   bool     return true <-> return false
#   not      delete a unary !
#   count    +1 <-> -1 in a count update (+ 1, += 1, ++ and their opposites)
#   drop     drop a statement that is a function call on its own line
# For each mutant it rebuilds the library, the CLI and the unit + race tests
# in a build directory of its own and runs `ctest -L 'unit|race'`:
#   killed    a test failed (or timed out)
#   survived  every test passed
#   invalid   the mutant does not compile (-Werror included); not counted
# It prints each mutant (file:line, the change, the verdict) and the score
# (killed / valid).
#
# The mutants are applied to a copy of the work tree (BUILD/tree), never to
# the tree itself; the copy's file is restored after each mutant, and on
# exit or signal (trap).
#
# Usage: scripts/mutate.sh [-n VALID] [-s SEED] [-b BUILDDIR] [-j JOBS]
#                          [-t TIMEOUT] [--list] [--only FILE:LINE:KIND[:K]]...
#   -n VALID   stop after this many valid mutants (default 40)
#   -s SEED    sample seed (default 1)
#   -b DIR     build directory (default build-mut)
#   --list     print the sample's mutants without running them
#   --only M   run just mutant M (as printed: file:line:kind:k), repeatable
#   --refresh  copy the work tree again (after changing tests)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PYEOF'
import os, random, re, shutil, signal, subprocess, sys, time

args = sys.argv[1:]
n_valid, seed, bdir, jobs, timeout = 40, 1, "build-mut", "2", "60"
only, list_only, refresh = [], False, False
i = 0
while i < len(args):
    a = args[i]
    def val():
        global i
        i += 1
        if i >= len(args):
            sys.exit(f"mutate.sh: {a} needs a value")
        return args[i]
    if a == "-n": n_valid = int(val())
    elif a == "-s": seed = int(val())
    elif a == "-b": bdir = val()
    elif a == "-j": jobs = val()
    elif a == "-t": timeout = val()
    elif a == "--only": only.append(val())
    elif a == "--list": list_only = True
    elif a == "--refresh": refresh = True
    elif a in ("-h", "--help"):
        print(open("scripts/mutate.sh").read().split("set -euo")[0]); sys.exit(0)
    else: sys.exit(f"mutate.sh: unknown argument {a}")
    i += 1

ROOT = os.getcwd()
DIRS = ["src/mem", "src/mm", "src/gup", "src/daemons", "src/check"]
SKIP = ("pm_policy(", "PINMM_SW_")

# ---------------------------------------------------------------- sites ---
def code_part(line):
    """the line with string/char literals and // comments blanked"""
    out, q, k = [], None, 0
    while k < len(line):
        c = line[k]
        if q:
            if c == "\\":
                out.append("  "); k += 2; continue
            if c == q: q = None
            out.append(c if c == q or q is None else " ")
        elif c in "\"'":
            q = c; out.append(c)
        elif line.startswith("//", k) or line.startswith("/*", k):
            break
        else:
            out.append(c)
        k += 1
    return "".join(out)

CMP = {"==": "!=", "!=": "==", "<": "<=", "<=": "<", ">": ">=", ">=": ">"}
# a comparison operator, not part of ->, <<, >>, <<=, >>=, or an #include
CMP_RE = re.compile(r"(?<![-<>=!&|+*/%^])(==|!=|<=|>=|<|>)(?![<>=])")
LOGIC_RE = re.compile(r"&&|\|\|")
BOOL_RE = re.compile(r"\breturn (true|false);")
NOT_RE = re.compile(r"!(?!=)")
COUNT_RE = re.compile(r"(\+= 1\b|-= 1\b|(?<![+\-])\+ 1\b|(?<![-+=(,])- 1\b|\+\+|--)")
CALL_RE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*\s*\(.*\)\s*;)\s*$")
KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "do"}

def balanced(s):
    d = 0
    for c in s:
        d += c == "("; d -= c == ")"
        if d < 0: return False
    return d == 0

def mutations(line):
    """[(kind, k, new_line, description)] for one source line"""
    code = code_part(line)
    st = code.strip()
    if (not st or st.startswith(("#", "*", "/*")) or any(s in line for s in SKIP)):
        return []
    res = []
    def sub_at(m, rep):
        return line[:m.start()] + rep + line[m.end():]
    for k, m in enumerate(CMP_RE.finditer(code)):
        op = m.group(1)
        # `<` / `>` inside a cast or a declaration are rare in this C; skip
        # lines that look like #include or template-ish uses
        res.append(("cmp", k, sub_at(m, CMP[op]), f"'{op}' -> '{CMP[op]}'"))
    for k, m in enumerate(LOGIC_RE.finditer(code)):
        rep = "||" if m.group(0) == "&&" else "&&"
        res.append(("logic", k, sub_at(m, rep), f"'{m.group(0)}' -> '{rep}'"))
    for k, m in enumerate(BOOL_RE.finditer(code)):
        rep = "return false;" if m.group(1) == "true" else "return true;"
        res.append(("bool", k, sub_at(m, rep), f"'{m.group(0)}' -> '{rep}'"))
    for k, m in enumerate(NOT_RE.finditer(code)):
        res.append(("not", k, sub_at(m, ""), "delete '!'"))
    if not st.startswith("for"):
        for k, m in enumerate(COUNT_RE.finditer(code)):
            t = m.group(0)
            rep = {"+= 1": "-= 1", "-= 1": "+= 1", "+ 1": "- 1", "- 1": "+ 1",
                   "++": "--", "--": "++"}[t]
            res.append(("count", k, sub_at(m, rep), f"'{t}' -> '{rep}'"))
    m = CALL_RE.match(code)
    if m and balanced(m.group(2)):
        name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)).group(0)
        if name not in KEYWORDS:
            res.append(("drop", 0, m.group(1) + ";\n",
                        f"drop '{m.group(2).strip()[:60]}'"))
    return res

def all_sites():
    sites = []
    for d in DIRS:
        for f in sorted(os.listdir(d)):
            if not f.endswith(".c"): continue
            path = f"{d}/{f}"
            in_comment = False
            with open(path) as fh:
                lines = fh.readlines()
            for no, line in enumerate(lines, 1):
                s = line.strip()
                if in_comment:
                    if "*/" in s: in_comment = False
                    continue
                if s.startswith("/*") and "*/" not in s:
                    in_comment = True; continue
                muts = mutations(line)
                if muts:
                    sites.append((path, no, muts))
    return sites

# ---------------------------------------------------------- the sample ---
sites = all_sites()
rng = random.Random(seed)
order = list(range(len(sites)))
rng.shuffle(order)
plan = []			# (path, line, kind, k, new_line, desc) in sample order
for idx in order:
    path, no, muts = sites[idx]
    kind, k, new, desc = muts[rng.randrange(len(muts))]
    plan.append((path, no, kind, k, new, desc))
if only:
    want = []
    for spec in only:
        p = spec.split(":")
        path, no, kind = p[0], int(p[1]), p[2]
        k = int(p[3]) if len(p) > 3 else 0
        muts = dict(((m[0], m[1]), m) for s in sites if s[0] == path and s[1] == no
                    for m in s[2])
        if (kind, k) not in muts:
            sys.exit(f"mutate.sh: no mutant {spec}")
        m = muts[(kind, k)]
        want.append((path, no, kind, k, m[2], m[3]))
    plan = want
    n_valid = len(plan)

def mid(p): return f"{p[0]}:{p[1]}:{p[2]}:{p[3]}"

print(f"mutate.sh: {len(sites)} candidate sites, seed {seed}, "
      f"goal {n_valid} valid mutants", flush=True)
if list_only:
    for p in plan[:n_valid]:
        print(f"{mid(p):40s} {p[5]}")
    sys.exit(0)

# ------------------------------------------------------- the tree copy ---
TREE = os.path.join(ROOT, bdir, "tree")
OBJ = os.path.join(ROOT, bdir, "obj")
LOG = os.path.join(ROOT, bdir, "mutate.log")
os.makedirs(os.path.join(ROOT, bdir), exist_ok=True)
if refresh or not os.path.isdir(TREE):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                           check=True, capture_output=True).stdout.split(b"\0")
    for f in files:
        f = f.decode()
        if not f or not os.path.isfile(f): continue
        dst = os.path.join(TREE, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(f, dst)

saved = {}			# path in the copy -> original text
def restore():
    for p, text in list(saved.items()):
        with open(p, "w") as fh:
            fh.write(text)
        del saved[p]

def on_signal(signum, frame):
    restore()
    print(f"\nmutate.sh: interrupted (signal {signum}); the copy is restored",
          flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGHUP, on_signal)

logf = open(LOG, "a")
class Result:
    def __init__(self, rc, out): self.returncode, self.stdout = rc, out

def run(cmd, tmo=None):
    """cmd in a session of its own; past tmo seconds the whole group is
    killed (a hung test's children may keep ctest waiting on its pipe)"""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=tmo)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        out += "\n*** mutate.sh: timed out, killed\n"
        rc = 124
    logf.write(f"$ {' '.join(cmd)}\n{out}\n"); logf.flush()
    return Result(rc, out)

TARGETS = None
def build():
    global TARGETS
    if TARGETS is None:
        # the unit and race test executables (tests/CMakeLists.txt names
        # them after their files; test_conc_* are the concurrency label)
        tests = sorted(f[:-2] for f in os.listdir(os.path.join(TREE, "tests"))
                       if f.startswith("test_") and f.endswith(".c")
                       and not f.startswith("test_conc_"))
        TARGETS = ["pinmm_static", "pinmm_explore", "pinmm-cli", "fuzz_replay"] + tests
    return run(["cmake", "--build", OBJ, "-j", jobs, "--target"] + TARGETS)

def ctest():
    return run(["ctest", "--test-dir", OBJ, "-L", "unit|race", "-j", jobs,
                "--timeout", timeout, "--stop-on-failure"],
               tmo=int(timeout) + 30)

try:
    # configure again after --refresh: new test files are new targets
    if refresh or not os.path.isfile(os.path.join(OBJ, "CMakeCache.txt")):
        r = run(["cmake", "-S", TREE, "-B", OBJ, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                 "-DPINMM_SANITIZE="])
        if r.returncode: sys.exit("mutate.sh: configure failed, see " + LOG)
    print("mutate.sh: building the unmutated copy ...", flush=True)
    if build().returncode: sys.exit("mutate.sh: the unmutated copy does not build")
    r = ctest()
    if r.returncode: sys.exit("mutate.sh: the suite fails without a mutant, see " + LOG)

    killed, survived, invalid, survivors = 0, 0, 0, []
    valid = 0
    for p in plan:
        if valid >= n_valid: break
        path, no, kind, k, new, desc = p
        src = os.path.join(TREE, path)
        with open(src) as fh:
            text = fh.read()
        lines = text.splitlines(keepends=True)
        old = lines[no - 1]
        lines[no - 1] = new
        saved[src] = text
        with open(src, "w") as fh:
            fh.write("".join(lines))
        t0 = time.time()
        logf.write(f"\n=== mutant {mid(p)} {desc}\n-{old}+{new}")
        try:
            if build().returncode:
                verdict = "invalid"; invalid += 1
            else:
                r = ctest()
                valid += 1
                if r.returncode:
                    fails = re.findall(r"\d+ - (\S+) \(", r.stdout)
                    if r.returncode == 124:
                        fails = ["timeout"]
                    verdict = "killed" + (f" ({fails[0]})" if fails else "")
                    killed += 1
                else:
                    verdict = "SURVIVED"; survived += 1; survivors.append((p, old))
        finally:
            restore()
        # touch so the next build recompiles the restored file
        os.utime(src, None)
        print(f"{mid(p):36s} {desc:44s} {verdict}  ({time.time() - t0:.0f} s)",
              flush=True)
    # rebuild the clean copy, so that the next run starts from it
    build()
    print()
    print(f"valid mutants {valid}, killed {killed}, survived {survived}, "
          f"invalid {invalid}")
    if valid:
        print(f"score {killed}/{valid} = {100.0 * killed / valid:.1f}%")
    for p, old in survivors:
        print(f"survivor {mid(p)}: {p[5]}\n    {old.strip()}")
finally:
    restore()
PYEOF
