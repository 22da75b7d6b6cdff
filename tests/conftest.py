"""Shared pytest configuration: every run says which interpreter and OpenSSL it used."""
import ssl
import sys

import tlsctx


def pytest_report_header(config):
    return [
        "python: %s (%s)" % (sys.version.split()[0], sys.executable),
        "tlsctx: %s, linked with %s" % (tlsctx.__file__, tlsctx.OPENSSL_VERSION),
        "stdlib ssl: %s" % ssl.OPENSSL_VERSION,
    ]
