"""tlsctx and the stdlib ssl in one process, each on its own OpenSSL.

A binary wheel links OpenSSL 3.5 into tlsctx's extension while the stdlib's
_ssl has loaded the system's libssl: both must work at once, with each other
as peers, from many threads, and no symbol of one copy may resolve to the
other.  The handshake tests hold for every build (they also run when both use
the same library); the symbol tests need the bundled build."""
import os
import socket
import ssl
import struct
import threading

import pytest

import tlsctx
from peers import HOST, Certs, TLSServer, client_context, server_context

BUNDLED = tlsctx._tlsctx._OPENSSL_BUNDLED
needs_bundled = pytest.mark.skipif(
    not BUNDLED, reason="tlsctx links the system's OpenSSL here (not a binary wheel): "
    "there is no second copy to keep apart")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("coexistence"))


def exchange(client_module, certs, server, payload):
    """One verified connection from a client of `client_module` to `server`:
    what the server echoed, the protocol, and the verified peer's subject."""
    ctx = client_context(client_module, certs)
    with socket.create_connection(server.address, timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
            conn.sendall(payload)
            received = b""
            while len(received) < len(payload):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received += chunk
            return received, conn.version(), conn.getpeercert()["subjectAltName"]


PAIRS = [("tlsctx", "ssl"), ("ssl", "tlsctx"), ("tlsctx", "tlsctx"), ("ssl", "ssl")]
MODULES = {"tlsctx": tlsctx, "ssl": ssl}


def test_verified_handshakes_both_ways_under_threads(certs):
    """Each (client, server) pairing of the two libraries from 8 threads at
    once, 5 connections each, every one verified against the test CA."""
    servers = {name: TLSServer(server_context(module, certs)) for name, module in MODULES.items()}
    results, errors = [], []

    def worker(index):
        try:
            for round_ in range(5):
                client, server = PAIRS[(index + round_) % len(PAIRS)]
                payload = b"%s->%s #%d.%d " % (client.encode(), server.encode(), index, round_) * 50
                received, version, subject = exchange(MODULES[client], certs, servers[server],
                                                      payload)
                results.append((client, server, received == payload, version, subject))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for server in servers.values():
            server.stop()
    assert not errors, errors
    assert not [e for s in servers.values() for e in s.errors], [s.errors for s in servers.values()]
    assert len(results) == 40
    assert {(c, s) for c, s, *_ in results} == set(PAIRS)
    assert all(ok for _, _, ok, _, _ in results)
    assert {version for *_, version, _ in results} == {"TLSv1.3"}


def test_each_side_rejects_an_untrusted_peer(certs):
    """Verification is live on both libraries: a server certificate from
    another CA fails on either client, with each library's own error type."""
    for server_name, client_module in (("ssl", tlsctx), ("tlsctx", ssl)):
        server = TLSServer(server_context(MODULES[server_name], certs, certfile=certs.untrusted))
        try:
            with pytest.raises(client_module.SSLCertVerificationError) as info:
                exchange(client_module, certs, server, b"x")
            assert info.value.verify_code == 20   # unable to get local issuer certificate
        finally:
            server.stop()


def test_each_library_reports_its_own_openssl():
    """tlsctx's calls reach an OpenSSL at least as new as its headers; the
    bundled build's reach its own 3.5 copy, whatever the stdlib's is."""
    assert tlsctx.OPENSSL_VERSION_INFO[:3] >= tuple(tlsctx._OPENSSL_API_VERSION[:3])
    if BUNDLED:
        assert tlsctx.OPENSSL_VERSION_INFO[:3] == tuple(tlsctx._OPENSSL_API_VERSION[:3])
        assert tlsctx.OPENSSL_VERSION_INFO[:2] == (3, 5), tlsctx.OPENSSL_VERSION


# ---- the extension's ELF dynamic section -----------------------------------


def elf_dynamic(path):
    """(defined global symbols, DT_NEEDED names) of a little-endian ELF64
    shared object, read from its section headers."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a little-endian ELF64"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]

    def strings(index, offset):
        start = sections[index][4] + offset
        return data[start:data.index(b"\0", start)].decode()

    symbols, needed = set(), []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind == 11:   # SHT_DYNSYM
            for pos in range(offset + entsize, offset + size, entsize):
                st_name, st_info, _other, st_shndx = struct.unpack_from("<IBBH", data, pos)
                binding = st_info >> 4
                if st_shndx != 0 and binding in (1, 2):   # defined GLOBAL or WEAK
                    symbols.add(strings(link, st_name))
        elif kind == 6:   # SHT_DYNAMIC
            for pos in range(offset, offset + size, entsize):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == 1:   # DT_NEEDED
                    needed.append(strings(link, value))
    return symbols, needed


@needs_bundled
def test_extension_exports_only_its_init_function():
    symbols, needed = elf_dynamic(tlsctx._tlsctx.__file__)
    assert symbols == {"PyInit__tlsctx"}
    assert not [n for n in needed if n.startswith(("libssl", "libcrypto"))], needed


@needs_bundled
def test_no_openssl_symbol_is_reachable_through_the_extension():
    """dlsym on the extension's handle (which also searches its
    dependencies, the C library among them) finds none of OpenSSL's
    functions, with the stdlib's _ssl loaded in the same process.  (zlib and
    zstd, which the static libcrypto calls, are linked in by
    tools/build_wheels.py, which checks that the wheel needs only libc; a
    TLSCTX_OPENSSL_STATIC=1 build of setup.py uses the shared ones.)"""
    import ctypes
    import _ssl  # noqa: F401  (the stdlib's OpenSSL is loaded)
    handle = ctypes.CDLL(tlsctx._tlsctx.__file__, mode=os.RTLD_LOCAL | os.RTLD_NOLOAD)
    assert hasattr(handle, "PyInit__tlsctx")
    for name in ("SSL_CTX_new", "OpenSSL_version_num", "X509_STORE_new", "ERR_get_error",
                 "EVP_MD_fetch", "OSSL_PROVIDER_load"):
        assert not hasattr(handle, name), name


# ---- what python -m tlsctx says about the two libraries ---------------------


def test_python_m_tlsctx_shows_openssl_and_ca_paths():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(tlsctx.__file__)))
    out = subprocess.run([sys.executable, "-m", "tlsctx"], cwd=root, check=True,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=root)).stdout
    paths = ssl.get_default_verify_paths()
    assert ("bundled: linked into tlsctx" in out) == BUNDLED
    assert "default CA paths of tlsctx (%s):" % tlsctx._DEFAULT_VERIFY_PATHS_SOURCE in out
    assert "cafile %s, capath %s" % (paths.cafile, paths.capath) in out
    assert "default CA paths of the stdlib: the same" in out


@pytest.mark.parametrize("stdlib_version, bundled, warns", [
    ((99, 0, 0, 0, 0), True, True),      # the system's OpenSSL is newer
    ((0, 9, 8, 0, 0), True, False),      # older
    ((99, 0, 0, 0, 0), False, False),    # not bundled: the same library, nothing to warn of
])
def test_python_m_tlsctx_warns_when_the_bundled_openssl_is_older(monkeypatch, stdlib_version,
                                                                 bundled, warns):
    from tlsctx import __main__ as main
    monkeypatch.setattr(ssl, "OPENSSL_VERSION_INFO", stdlib_version)
    monkeypatch.setattr(tlsctx._tlsctx, "_OPENSSL_BUNDLED", bundled)
    report = main.openssl_report()
    assert bool(report["warnings"]) == warns
    if warns:
        assert "gets fixes only through tlsctx releases" in report["warnings"][0]
        assert tlsctx.OPENSSL_VERSION in report["warnings"][0]


def test_bundled_default_paths_follow_the_stdlib():
    """The paths OpenSSL's defaults give: the stdlib's on every build (a
    bundled OpenSSL takes them from the stdlib's _ssl at import)."""
    import _ssl
    assert tuple(tlsctx._tlsctx.get_default_verify_paths()) == tuple(_ssl.get_default_verify_paths())
