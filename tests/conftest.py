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
