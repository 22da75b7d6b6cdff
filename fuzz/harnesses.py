"""atheris harnesses: differential fuzzing of tlsctx against the stdlib ssl.

    python fuzz/harnesses.py TARGET [libFuzzer flags...] [corpus dirs...]

TARGET is one of: cadata_pem, cadata_der, cert_chain, ciphers, alpn.
Each input is given to tlsctx and to the stdlib; the harness aborts (a
finding) when tlsctx raises SystemError or an exception class the stdlib does
not, or leaves an OpenSSL error queued.
"""
import os
import ssl
import sys

import atheris

# the repository's in-place build, when tlsctx is not installed
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with atheris.instrument_imports():
    import tlsctx

pending = tlsctx._tlsctx._openssl_errors_pending


def kind(func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the class is what we compare
        return type(exc).__name__
    return "ok"


def check(mine, theirs, data):
    if pending():
        raise AssertionError("OpenSSL error queue not empty after input %r" % (data[:64],))
    if mine == "SystemError" or mine != theirs:
        raise AssertionError("tlsctx: %s, stdlib: %s, input %r" % (mine, theirs, data[:64]))


def cadata_pem(data):
    text = data.decode("ascii", "replace")
    check(kind(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_verify_locations, cadata=text),
          kind(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations, cadata=text), data)


def cadata_der(data):
    check(kind(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_verify_locations, cadata=data),
          kind(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations, cadata=data), data)


def cert_chain(data):
    # first byte picks the form; the rest is the certificate and key material
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
    if not data:
        return
    body = data[1:]
    if data[0] & 1:
        body = body.decode("latin-1")
    result = kind(ctx.load_cert_chain, certdata=body, keydata=body if data[0] & 2 else None,
                  password=b"secret" if data[0] & 4 else None)
    if pending():
        raise AssertionError("OpenSSL error queue not empty after input %r" % (data[:64],))
    if result not in ("ok", "SSLError", "ValueError", "TypeError", "OverflowError"):
        raise AssertionError("load_cert_chain raised %s for %r" % (result, data[:64]))


def ciphers(data):
    text = data.decode("utf-8", "replace")
    check(kind(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).set_ciphers, text),
          kind(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers, text), data)


def alpn(data):
    protocols = data.decode("latin-1").split("\x00")
    check(kind(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).set_alpn_protocols, protocols),
          kind(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_alpn_protocols, protocols), data)


TARGETS = {f.__name__: f for f in (cadata_pem, cadata_der, cert_chain, ciphers, alpn)}


def main():
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
