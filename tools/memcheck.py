#!/usr/bin/env python3
"""Run (part of) the test suite under valgrind memcheck and fail on any
invalid access, or any definite leak, whose stack passes through tlsctx.

    python tools/memcheck.py                 # the whole suite (slow)
    python tools/memcheck.py tests/test_parity.py -k setter   # a part

Uses the in-place build of the interpreter running this script, and
PYTHONMALLOC=malloc so that valgrind sees every Python allocation.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# a frame in the extension: one of its source files (valgrind prints full paths
# with --fullpath-after=, which keeps CPython's own errors.c/context.c apart),
# or the shared object itself when there is no debug information
OURS = re.compile(r"_tlsctx\.cpython|/src/(?:%s):\d+\)" % "|".join(
    re.escape(name) for name in sorted(os.listdir(os.path.join(ROOT, "src"))) if name.endswith(".c")))
# CPython 3.12+ never frees interned strings: valgrind calls them lost
INTERNED = re.compile(r"PyUnicode_InternFromString|PyUnicode_InternInPlace|intern_string|"
                      r"PyDict_SetItemString \(\S*dictobject")


def records(log_text):
    """Split a valgrind log into its error records (blank-line separated)."""
    block = []
    for line in log_text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if body.strip():
            block.append(body)
        elif block:
            yield "\n".join(block)
            block = []
    if block:
        yield "\n".join(block)


def python_made(record):
    """Whether the lost block was allocated by Python code that tlsctx called
    back (a __fspath__, a password callback...): between the allocation and
    the first tlsctx frame the interpreter ran bytecode, so the object was the
    interpreter's to free, not ours."""
    lines = record.splitlines()
    first_ours = next((i for i, line in enumerate(lines) if OURS.search(line)), len(lines))
    return any("_PyEval_EvalFrameDefault" in line for line in lines[:first_ours])


def problems(log_text):
    found = []
    for record in records(log_text):
        head = record.splitlines()[0]
        serious = (head.startswith(("Invalid ", "Conditional jump", "Use of uninitialised",
                                    "Syscall param", "Mismatched free", "Source and destination"))
                   or "definitely lost" in head)
        if "definitely lost" in head and INTERNED.search(record):
            continue
        if "definitely lost" in head and python_made(record):
            continue
        if serious and OURS.search(record):
            found.append(record)
    return found


def main(argv):
    with tempfile.NamedTemporaryFile(prefix="memcheck-", suffix=".log", delete=False) as log:
        log_path = log.name
    env = dict(os.environ, PYTHONMALLOC="malloc")
    command = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
               "--errors-for-leak-kinds=definite", "--num-callers=40", "--fullpath-after=", "--log-file=" + log_path,
               sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + (argv or ["tests"])
    print("running:", " ".join(command), flush=True)
    tests = subprocess.run(command, cwd=ROOT, env=env)
    with open(log_path, errors="replace") as f:
        text = f.read()
    found = problems(text)
    for record in found:
        print("-" * 70)
        print(record)
    summary = re.findall(r"ERROR SUMMARY: .*", text)
    print("valgrind log:", log_path, summary[-1] if summary else "")
    print("memcheck: %d problem(s) in tlsctx code; tests exit status %d" % (len(found),
                                                                            tests.returncode))
    return 1 if found or tests.returncode else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
