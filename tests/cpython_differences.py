"""Tests of CPython's own suites that pass on the stdlib ``ssl`` and not with
``sys.modules["ssl"] = tlsctx``, each with its reason (docs/differences.md,
"CPython's own test suites", explains each entry).

tools/run_cpython_tests.py fails on any other such test.  Keys are test ids
(``test.test_ssl.Class.method``) or a prefix ending in ``.*``; values are
(CPython versions where the entry applies, or None for every version; reason).
"""

NEWER = ("3.14", "3.15")

CPYTHON_SUITE_DIFFERENCES = {
    "test.test_ssl.ContextTests.test_options": (
        ("3.10", "3.11", "3.12", "3.13"),
        "tlsctx parses options as 3.14+ do: `ctx.options = -1` raises ValueError('Cannot "
        "convert negative int'), where the older test expects OverflowError"),
    "test.test_ssl.TestSSLDebug.test_msg_callback": (
        NEWER, "the test calls the stdlib C type's own descriptor "
        "(_ssl._SSLContext.__dict__['_msg_callback'].__delete__) on the context, which "
        "only applies to the stdlib's C type"),
}


def applies(test_id, version):
    """The reason when `test_id` is a documented difference on CPython
    `version` ("3.13"), else None."""
    for key, (versions, reason) in CPYTHON_SUITE_DIFFERENCES.items():
        matches = test_id == key or (key.endswith(".*") and test_id.startswith(key[:-1]))
        if matches and (versions is None or version in versions):
            return reason
    return None
