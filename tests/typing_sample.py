"""Typical user code, written against tlsctx's type stubs.

tests/test_typing.py checks this file with ``mypy --strict`` (it must pass
without a single ``type: ignore``) and runs the parts that need no network.
Every line is code a user of the stdlib's ssl would write.
"""
from __future__ import annotations

import socket
from typing import Any

import tlsctx as ssl


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    ctx.options &= ~ssl.OP_NO_RENEGOTIATION
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    ctx.verify_flags |= ssl.VerifyFlags.VERIFY_X509_TRUSTED_FIRST
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def server_context(chain_pem: str, key_pem: bytes, password: bytes | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # tlsctx only: the chain and key straight from memory
    ctx.load_cert_chain(certdata=chain_pem, keydata=key_pem, password=password)
    ctx.set_ciphers("ECDHE+AESGCM")
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    return ctx


def server_context_from_files(certfile: str, keyfile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile, password=lambda: "secret")
    return ctx


def describe(ctx: ssl.SSLContext) -> dict[str, Any]:
    """What a context says about itself, with the types the stubs promise."""
    protocol: ssl._SSLMethod = ctx.protocol
    options: ssl.Options = ctx.options
    flags: ssl.VerifyFlags = ctx.verify_flags
    mode: ssl.VerifyMode = ctx.verify_mode
    low: ssl.TLSVersion = ctx.minimum_version
    stats: dict[str, int] = ctx.cert_store_stats()
    subjects: list[str] = []
    for cert in ctx.get_ca_certs():
        subject = cert["subject"]
        assert isinstance(subject, tuple)
        subjects.append(repr(subject))
    der: list[bytes] = ctx.get_ca_certs(binary_form=True)
    ciphers = [cipher["name"] for cipher in ctx.get_ciphers()]
    return {
        "protocol": protocol.name,
        "options": int(options),
        "strict": bool(flags & ssl.VERIFY_X509_STRICT),
        "required": mode == ssl.CERT_REQUIRED,
        "minimum": low.name,
        "stats": stats,
        "subjects": subjects,
        "der": sum(len(d) for d in der),
        "ciphers": ciphers,
        "check_hostname": ctx.check_hostname,
    }


def explain(error: ssl.SSLError) -> str:
    """The text a user would log for a failed TLS call."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "verify failed (%d): %s" % (error.verify_code, error.verify_message)
    return "%s/%s: %s" % (error.library, error.reason, error.strerror)


def load_or_explain(ctx: ssl.SSLContext, cadata: str | bytes) -> str | None:
    try:
        ctx.load_verify_locations(cadata=cadata)
    except ssl.SSLError as error:
        return explain(error)
    except (OSError, ValueError, TypeError) as error:
        return type(error).__name__
    return None


def fetch(host: str, port: int, ctx: ssl.SSLContext) -> tuple[str | None, str | None, bytes]:
    """One request over a verified connection (not run by the tests)."""
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"HEAD / HTTP/1.0\r\nHost: " + host.encode("idna") + b"\r\n\r\n")
            chain: list[bytes] = tls.get_verified_chain()
            assert chain
            return tls.version(), tls.selected_alpn_protocol(), tls.recv(1024)


def sni(conn: ssl.SSLSocket | ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> int | None:
    if name is None:
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    return None


def features() -> dict[str, object]:
    version: tuple[int, int, int, int, int] = ssl.OPENSSL_VERSION_INFO
    paths = ssl.get_default_verify_paths()
    cache = ssl.trust_cache_info()
    return {
        "openssl": ssl.OPENSSL_VERSION,
        "version": version,
        "tls13": ssl.HAS_TLSv1_3,
        "cafile": paths.cafile,
        "cached_sources": cache["sources"],
        "pem": ssl.DER_cert_to_PEM_cert(b"\x30\x00").startswith(ssl.PEM_HEADER),
        "expires": ssl.cert_time_to_seconds("Jan  5 09:34:43 2018 GMT"),
        "tlsctx": ssl.__version__,
    }


def use_sni(ctx: ssl.SSLContext) -> None:
    ctx.sni_callback = sni
    ctx.set_servername_callback(None)
    ctx.sni_callback = None
