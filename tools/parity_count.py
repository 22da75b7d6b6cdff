"""Count the parity comparisons the test suite makes (for the README's figures).

Run the suite with this plugin:

    PYTHONPATH=tools python -m pytest -q -p parity_count

Every comparison in the suite goes through ``helpers.outcome()``: a call is
run against tlsctx and the same call against the stdlib, and the two outcomes
(result or exception type, message, library, reason, warnings) are compared.
The plugin counts the ``outcome()`` calls that reach the stdlib (the callable
or one of its arguments belongs to ``ssl``/``_ssl``, or the call runs code of
ssl.py or a C function of _ssl): the number of stdlib observations tlsctx's
answers were compared with.  It prints them with the test totals at the end.
"""
import json
import pathlib
import sys

_COUNTS = {"stdlib_observations": 0, "outcome_calls": 0}
_STD_MODULES = ("ssl", "_ssl")


def _touches_stdlib(value):
    owner = getattr(value, "__self__", None)
    for item in (value, owner):
        if item is None:
            continue
        module = getattr(item, "__module__", None) or type(item).__module__
        if module in _STD_MODULES or type(item).__module__ in _STD_MODULES:
            return True
    return False


def _install():
    import ssl

    tests = pathlib.Path(__file__).resolve().parent.parent / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    import helpers

    original = helpers.outcome
    ssl_file = ssl.__file__
    reached = []

    def profiler(frame, event, arg):
        # a Python frame of ssl.py, or a C call into _ssl, means the call
        # under observation reached the stdlib
        if event == "call" and frame.f_code.co_filename == ssl_file:
            reached[-1] = True
        elif event == "c_call" and _touches_stdlib(arg):
            reached[-1] = True

    def counting_outcome(func, *args, **kwargs):
        _COUNTS["outcome_calls"] += 1
        reached.append(_touches_stdlib(func) or any(_touches_stdlib(a) for a in args))
        previous = sys.getprofile()
        sys.setprofile(profiler)
        try:
            return original(func, *args, **kwargs)
        finally:
            sys.setprofile(previous)
            if reached.pop():
                _COUNTS["stdlib_observations"] += 1

    helpers.outcome = counting_outcome


def pytest_configure(config):
    _install()


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    figures = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "passed": len(stats.get("passed", [])),
        "skipped": len(stats.get("skipped", [])),
        "failed": len(stats.get("failed", [])),
        **_COUNTS,
    }
    terminalreporter.write_line("parity figures: " + json.dumps(figures))
