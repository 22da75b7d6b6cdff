"""Tests of CPython's own suites that pass on the stdlib ``ssl`` and not with
``sys.modules["ssl"] = tlsctx``, each with its reason (docs/differences.md,
"CPython's own test suites", explains each entry).

tools/run_cpython_tests.py fails on any other such test.  Keys are test ids
(``test.test_ssl.Class.method``) or a prefix ending in ``.*``; values are
(CPython versions where the entry applies, or None for every version; reason).
"""

CPYTHON_SUITE_DIFFERENCES = {
}


def applies(test_id, version):
    """The reason when `test_id` is a documented difference on CPython
    `version` ("3.13"), else None."""
    for key, (versions, reason) in CPYTHON_SUITE_DIFFERENCES.items():
        matches = test_id == key or (key.endswith(".*") and test_id.startswith(key[:-1]))
        if matches and (versions is None or version in versions):
            return reason
    return None
