"""Shared pytest configuration: every run says which interpreter and OpenSSL it used."""
import ssl
import sys

import pytest

import tlsctx

# Tests marked same_openssl compare with answers that depend on the stdlib's
# own OpenSSL (error tables, cipher lists, defaults): they only hold when
# tlsctx links the same library, not in the OpenSSL 3.5 build.
_SAME_OPENSSL = ssl.OPENSSL_VERSION_NUMBER == tlsctx.OPENSSL_VERSION_NUMBER


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "same_openssl: needs tlsctx and the stdlib ssl to link the same OpenSSL")


def pytest_runtest_setup(item):
    if item.get_closest_marker("same_openssl") is not None and not _SAME_OPENSSL:
        pytest.skip("compares with the stdlib's OpenSSL-specific answers; tlsctx links %s, "
                    "the stdlib %s" % (tlsctx.OPENSSL_VERSION, ssl.OPENSSL_VERSION))


def pytest_report_header(config):
    return [
        "python: %s (%s)" % (sys.version.split()[0], sys.executable),
        "tlsctx: %s, linked with %s" % (tlsctx.__file__, tlsctx.OPENSSL_VERSION),
        "stdlib ssl: %s" % ssl.OPENSSL_VERSION,
    ]

# Pending: the handshake proofs of the 3.15 API need the connection layer;
# the lead deletes this line once it is merged.


@pytest.fixture(params=["direct", "python"])
def stdlib_bio_path(request):
    """Which way tlsctx drives the stdlib's ssl.MemoryBIO objects (asyncio's):
    "direct" hands their OpenSSL BIO to the connection (where the stdlib's _ssl
    runs on tlsctx's own libcrypto), "python" calls their Python methods (as
    everywhere else). The setting is restored afterwards."""
    from tlsctx import _tlsctx
    before = _tlsctx._stdlib_bios_direct()
    try:
        if request.param == "direct" and not _tlsctx._stdlib_bios_direct(True):
            pytest.skip("the stdlib's _ssl does not run on tlsctx's libcrypto here (%s, %s): "
                        "its MemoryBIO is only driven through Python methods"
                        % (ssl.OPENSSL_VERSION, tlsctx.OPENSSL_VERSION))
        if request.param == "python":
            _tlsctx._stdlib_bios_direct(False)
        yield request.param
    finally:
        _tlsctx._stdlib_bios_direct(before)
