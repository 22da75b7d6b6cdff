"""Tests of CPython's own suites that pass on the stdlib ``ssl`` and not with
``sys.modules["ssl"] = tlsctx``, each with its reason (docs/differences.md,
"CPython's own test suites", explains each entry).

tools/run_cpython_tests.py fails on any other such test.  Keys are test ids
(``test.test_ssl.Class.method``) or a prefix ending in ``.*``; values are
(CPython versions where the entry applies, or None for every version; reason).
"""

NEWER = ("3.14", "3.15")

CPYTHON_SUITE_DIFFERENCES = {
    "test.test_ssl.TestSSLDebug.test_msg_callback": (
        NEWER, "the test calls the stdlib C type's own descriptor "
        "(_ssl._SSLContext.__dict__['_msg_callback'].__delete__) on the context, which "
        "only applies to the stdlib's C type"),
    "test.test_ssl.SSLObjectTests.test_distrusted_spki": (
        NEWER, "CPython 3.14.x/3.15 reject chains through certificates whose public key is "
        "on a distrust list compiled into _ssl (gh-160040); tlsctx has no such list yet"),
    "test.test_ssl.ContextTests.test_options": (
        NEWER, "3.14+ raise ValueError('Cannot convert negative int') for negative options; "
        "tlsctx's context layer raises 3.12/3.13's OverflowError (context-level parity work)"),
    "test.test_ssl.TestSSLDebug.test_keylog_defaults": (
        NEWER, "3.14+ say \"attribute 'keylog_filename' of 'SSLContext' objects cannot be "
        "deleted\"; tlsctx says 'cannot delete attribute' (context-level parity work)"),
    "test.test_ssl.ThreadedTests.test_dh_params": (
        None, "the test skips itself unless the default cipher list offers DHE, which "
        "Debian's builds (--with-ssl-default-suites=openssl) do and tlsctx's default does "
        "not (context-level parity work)"),
}


def applies(test_id, version):
    """The reason when `test_id` is a documented difference on CPython
    `version` ("3.13"), else None."""
    for key, (versions, reason) in CPYTHON_SUITE_DIFFERENCES.items():
        matches = test_id == key or (key.endswith(".*") and test_id.startswith(key[:-1]))
        if matches and (versions is None or version in versions):
            return reason
    return None
