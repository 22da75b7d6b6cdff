"""Tests of CPython's own suites that pass on the stdlib ``ssl`` and not with
``sys.modules["ssl"] = tlsctx``, each with its reason (docs/differences.md,
"CPython's own test suites", explains each entry).

tools/run_cpython_tests.py fails on any other such test.  Keys are test ids
(``test.test_ssl.Class.method``) or a prefix ending in ``.*``; values are
(CPython versions where the entry applies, or None for every version; reason).
"""

NEWER = ("3.14", "3.15")

# 3.11's test server (ThreadedEchoServer) stops on any error while reading,
# and refuses (or resets) the test's next connection; 3.13's ignores a
# ConnectionError.
SERVER_STOPS_ON_RESET = (
    "sometimes: a client closes with the server's TLS 1.3 session tickets unread, so "
    "the server's read meets a TCP reset: ConnectionResetError as from 3.13 "
    "(peer_reset), where 3.11 reports SSLEOFError, which the read's "
    "suppress_ragged_eofs turns into b''; 3.11's test server stops on the "
    "ConnectionResetError and refuses (or resets) the test's next connection; "
    "3.13's ignores it")
# 3.11's test accepts only SSLError; 3.13's also ConnectionResetError.
CLIENT_WRITE_RESET = (
    "sometimes: the client's write meets the TCP reset of the server's close after "
    "the server refused the client certificate: ConnectionResetError as from 3.13 "
    "(peer_reset), where 3.11 raises SSLEOFError; 3.11's test accepts only SSLError, "
    "3.13's also the reset")

CPYTHON_SUITE_DIFFERENCES = {
    "test.test_ssl.ContextTests.test_options": (
        ("3.10", "3.11", "3.12", "3.13"),
        "tlsctx parses options as 3.14+ do: `ctx.options = -1` raises ValueError('Cannot "
        "convert negative int'), where the older test expects OverflowError; 3.11.2's "
        "test also expects OP_IGNORE_UNEXPECTED_EOF on a fresh context, which releases "
        "before 3.11.3 set and gh-95494 removed (fresh_context.options)"),
    "test.test_ssl.TestSSLDebug.test_msg_callback": (
        NEWER, "the test calls the stdlib C type's own descriptor "
        "(_ssl._SSLContext.__dict__['_msg_callback'].__delete__) on the context, which "
        "only applies to the stdlib's C type"),
    # CPython 3.11's suites (Debian 12's libpython3.11-testsuite for 3.11.2)
    # test behaviour that the newest CPython changed or removed; tlsctx gives
    # the newest (docs/differences.md, "Where an older interpreter's ssl differs").
    "test.test_ssl.BasicSocketTests.test_errors_sslwrap": (
        ("3.11",), "calls ssl.wrap_socket(), removed in 3.12"),
    "test.test_ssl.BasicSocketTests.test_match_hostname": (
        ("3.11",), "calls ssl.match_hostname(), removed in 3.12"),
    "test.test_ssl.BasicSocketTests.test_random": (
        ("3.11",), "calls ssl.RAND_pseudo_bytes(), removed in 3.12"),
    "test.test_ssl.SSLErrorTests.test_bad_server_hostname": (
        ("3.11",), "expects the DeprecationWarning Debian's 3.11.2 patch adds to wrap_bio() "
        "with check_hostname and no server_hostname; 3.14 raises ValueError before "
        "wrapping (SSLObject._create)"),
    "test.test_ssl.SSLObjectTests.test_check_hostname_requires_server_hostname": (
        ("3.11",), "expects the DeprecationWarning Debian's 3.11.2 patch adds to wrap_bio() "
        "with check_hostname and no server_hostname; 3.14 raises ValueError before "
        "wrapping (SSLObject._create)"),
    "test.test_asyncio.test_sslproto.SslProtoHandshakeTests."
    "test_check_hostname_requires_server_hostname": (
        ("3.11",), "expects the DeprecationWarning Debian's 3.11.2 patch adds to wrap_bio() "
        "with check_hostname and no server_hostname; 3.14 raises ValueError before "
        "wrapping (SSLObject._create)"),
    "test.test_ssl.SimpleBackgroundTests.test_bio_handshake": (
        ("3.11",), "expects a list from SSLObject.shared_ciphers() before the handshake; "
        "from 3.11.3 (gh-96931) it is None until a handshake has negotiated"),
    "test.test_ssl.ThreadedTests.test_socketserver": (
        ("3.11",), "3.11's test CA has a basicConstraints extension not marked critical, "
        "which create_default_context()'s VERIFY_X509_STRICT (3.13) refuses "
        "(create_default_context.verify_flags)"),
}
for _test in ("SimpleBackgroundTests.test_connect", "SimpleBackgroundTests.test_connect_capath",
              "SimpleBackgroundTests.test_connect_cadata",
              "SimpleBackgroundTests.test_connect_with_context",
              "SimpleBackgroundTests.test_get_server_certificate",
              "SimpleBackgroundTests.test_get_server_certificate_sni",
              "SimpleBackgroundTests.test_ciphers",
              "TestSSLDebug.test_msg_callback_deadlock_bpo43577"):
    CPYTHON_SUITE_DIFFERENCES["test.test_ssl." + _test] = (("3.11",), SERVER_STOPS_ON_RESET)
for _test in ("ThreadedTests.test_wrong_cert_tls13",
              "TestPostHandshakeAuth.test_pha_required_nocert"):
    CPYTHON_SUITE_DIFFERENCES["test.test_ssl." + _test] = (("3.11",), CLIENT_WRITE_RESET)
del _test


def applies(test_id, version):
    """The reason when `test_id` is a documented difference on CPython
    `version` ("3.13"), else None."""
    for key, (versions, reason) in CPYTHON_SUITE_DIFFERENCES.items():
        matches = test_id == key or (key.endswith(".*") and test_id.startswith(key[:-1]))
        if matches and (versions is None or version in versions):
            return reason
    return None
