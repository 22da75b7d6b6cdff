#!/usr/bin/env python3
"""Run CPython's own ssl-using test suites with ``sys.modules["ssl"] = tlsctx``
and compare them with a run on the stdlib ``ssl`` of the same interpreter.

    python tools/run_cpython_tests.py                 # every suite, this interpreter
    python tools/run_cpython_tests.py test_ssl test_httplib
    python tools/run_cpython_tests.py --list          # the suite names
    python tools/run_cpython_tests.py --json out.json # per-test outcomes too

Each suite runs twice, in fresh interpreters: once as it is and once with
tlsctx installed as ``ssl`` before the test module imports anything.  A test
that passes on the stdlib and does not pass on tlsctx is a new failure, unless
the table ``CPYTHON_SUITE_DIFFERENCES`` (tests/cpython_differences.py, with
the reasons in docs/differences.md) lists it; the exit status is 1 on any
new failure, or when the interpreter has no ``test`` package (Debian's
libpython3.X-testsuite, or a CPython built with its tests).

tlsctx must be importable by the interpreter running this script (an
installed or in-place build).  Tests that need the network resource (remote
hosts) are not run: this machine has no outside network.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from cpython_differences import CPYTHON_SUITE_DIFFERENCES, applies  # noqa: E402

# (suite name, importable test module or package, name filter or None)
SUITES = [
    ("test_ssl", "test.test_ssl", None),
    ("test_asyncio.test_ssl", "test.test_asyncio.test_ssl", None),
    ("test_asyncio.test_sslproto", "test.test_asyncio.test_sslproto", None),
    ("test_asyncio.test_events", "test.test_asyncio.test_events", "ssl"),
    ("test_httplib", "test.test_httplib", None),
    ("test_urllib2_localnet", "test.test_urllib2_localnet", None),
    ("test_ftplib", "test.test_ftplib", None),
    ("test_imaplib", "test.test_imaplib", None),
    ("test_poplib", "test.test_poplib", None),
    ("test_smtplib", "test.test_smtplib", None),
]

# Runs inside the child interpreter: argv = [mode, module, filter or ""].
CHILD = r'''
import json, sys, unittest, warnings
mode, module, name_filter = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "tlsctx":
    import ssl as _stdlib_ssl  # tlsctx's connection layer extends the stdlib's classes
    import tlsctx
    sys.modules["ssl"] = tlsctx
from test import support
# every resource but the outside network
support.use_resources = ["cpu", "decimal", "subprocess", "urlfetch", "walltime", "extralargefile"]
import faulthandler
faulthandler.dump_traceback_later(int(sys.argv[4]), exit=True)

outcomes = {}

class Result(unittest.TestResult):
    def _set(self, test, status, detail=""):
        key = test.id()
        if " " in key:  # a _SubTest or a class/module fixture "setUpClass (...)"
            key = key.split(" ")[0]
        # a failing subtest fails its test; a later success must not hide it
        if outcomes.get(key, ("pass",))[0] in ("fail", "error") and status == "pass":
            return
        outcomes[key] = (status, detail[-2000:])
    def addSuccess(self, test):
        self._set(test, "pass")
    def addFailure(self, test, err):
        self._set(test, "fail", self._exc_info_to_string(err, test))
    def addError(self, test, err):
        self._set(test, "error", self._exc_info_to_string(err, test))
    def addSkip(self, test, reason):
        self._set(test, "skip", reason)
    def addExpectedFailure(self, test, err):
        self._set(test, "pass")
    def addUnexpectedSuccess(self, test):
        self._set(test, "fail", "unexpected success")
    def addSubTest(self, test, subtest, err):
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            outcomes[test.id()] = ("fail" if failed else "error",
                                   self._exc_info_to_string(err, test)[-2000:])

loader = unittest.TestLoader()
if name_filter:
    # the ssl cases: ssl or tls anywhere in the class or method name
    loader.testNamePatterns = ["*%s*" % word for word in ("ssl", "SSL", "Ssl", "tls", "TLS", "Tls")]
suite = loader.loadTestsFromName(module)
if mode == "tlsctx":
    # proof that the suite sees tlsctx: its module's `ssl` and the contexts it makes
    tested = sys.modules[module]
    assert getattr(tested, "ssl", tlsctx) is tlsctx, "the test module's ssl is not tlsctx"
    assert type(sys.modules["ssl"].create_default_context()).__module__ == "tlsctx"
with warnings.catch_warnings():
    suite.run(Result())
print("\n@@OUTCOMES@@" + json.dumps(outcomes))
'''


def run_suite(python, mode, module, name_filter, timeout):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("SSLKEYLOGFILE", None)
    started = time.monotonic()
    proc = subprocess.run(
        [python, "-X", "faulthandler", "-c", CHILD, mode, module, name_filter or "", str(timeout)],
        cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        errors="replace", timeout=timeout + 60)
    elapsed = time.monotonic() - started
    marker = proc.stdout.rfind("@@OUTCOMES@@")
    if marker < 0:
        return None, proc.stdout[-4000:], elapsed
    return json.loads(proc.stdout[marker + len("@@OUTCOMES@@"):]), "", elapsed


def compare(suite, stdlib, tlsctx, version):
    """(new failures, documented failures, tlsctx-only passes)"""
    new, documented, better = [], [], []
    for test_id, (status, _) in sorted(stdlib.items()):
        ours, detail = tlsctx.get(test_id, ("missing", "not run with tlsctx"))
        if status == "pass" and ours != "pass":
            reason = applies(test_id, version)
            (documented if reason else new).append((test_id, ours, detail, reason))
        elif status != "pass" and status != "skip" and ours == "pass":
            better.append(test_id)
    return new, documented, better


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help="suite names (default: all)")
    parser.add_argument("--python", default=sys.executable, help="interpreter to test")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per suite run")
    parser.add_argument("--list", action="store_true", help="print the suite names")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print failure details")
    args = parser.parse_args()
    if args.list:
        print("\n".join(name for name, _, _ in SUITES))
        return 0
    chosen = [s for s in SUITES if not args.suites or s[0] in args.suites]
    unknown = set(args.suites) - {s[0] for s in SUITES}
    if unknown:
        parser.error("unknown suites: %s" % ", ".join(sorted(unknown)))

    probe = subprocess.run(
        [args.python, "-c", "import sys, test.support, tlsctx; print('%d.%d' % sys.version_info[:2])"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        print("run_cpython_tests: %s cannot import test.support and tlsctx:\n%s"
              % (args.python, probe.stderr.strip()), file=sys.stderr)
        return 1
    version = probe.stdout.strip()
    print("run_cpython_tests: CPython %s (%s)" % (version, args.python))

    failed = False
    report = {}
    for name, module, name_filter in chosen:
        results = {}
        for mode in ("stdlib", "tlsctx"):
            outcomes, output, elapsed = run_suite(args.python, mode, module, name_filter,
                                                  args.timeout)
            if outcomes is None:
                print("%-28s %-6s did not finish (%.0f s):\n%s" % (name, mode, elapsed, output))
                failed = True
                break
            results[mode] = outcomes
            counts = {}
            for status, _ in outcomes.values():
                counts[status] = counts.get(status, 0) + 1
            print("%-28s %-6s %4d tests: %s (%.0f s)" % (
                name, mode, len(outcomes),
                ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items())), elapsed))
        if len(results) < 2:
            continue
        new, documented, better = compare(name, results["stdlib"], results["tlsctx"], version)
        report[name] = results
        for test_id, status, detail, reason in documented:
            print("    documented: %s (%s): %s" % (test_id, status, reason))
        for test_id in better:
            print("    passes only with tlsctx: %s" % test_id)
        for test_id, status, detail, _ in new:
            failed = True
            print("    NEW FAILURE: %s (%s)" % (test_id, status))
            if args.verbose:
                print("      " + detail.replace("\n", "\n      "))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1, sort_keys=True)
    print("run_cpython_tests: %s" % ("NEW FAILURES" if failed else "no new failures"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
