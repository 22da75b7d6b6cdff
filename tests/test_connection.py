"""TLS connections through tlsctx contexts against real peers on loopback:
the stdlib, tlsctx itself and `openssl s_server` / `s_client`.  Where a
result can be asked of the stdlib, the same scenario is run with a stdlib
client (or server) and the outcomes are compared."""
import errno
import os
import re
import select
import signal
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading

import pytest

import tlsctx
from helpers import strip_location
from test_parity import differs_here
from peers import (HOST, MODULES, OPENSSL, Certs, OpenSSLServer, TLSServer, client_context,
                   echo, openssl_client, server_context)

# Where the running interpreter's ssl is older than 3.13's, the stdlib side
# of a comparison is corrected by this table (documented differences only).
STDLIB_DIFFERENCES = {
    # 3.13 added SSLSocket/SSLObject.get_verified_chain/get_unverified_chain.
    "chains": sys.version_info >= (3, 13),
}

VERSIONS = {"TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3"}
_WHERE = re.compile(r"^\w+\.c:\d+: ")


def message(exc):
    """An exception's text without the C source location either library adds."""
    return _WHERE.sub("", strip_location(exc))


def error_outcome(exc):
    return (type(exc).__name__, message(exc), getattr(exc, "errno", None),
            getattr(exc, "library", None), getattr(exc, "reason", None),
            getattr(exc, "verify_code", None), getattr(exc, "verify_message", None))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def pin_version(ctx, module, version):
    member = getattr(module.TLSVersion, VERSIONS[version])
    ctx.minimum_version = member
    ctx.maximum_version = member


def exchange(cmod, smod, certs, version, payload=b"ping" * 1000):
    """A client of `cmod` talks to a server of `smod`; what the client saw."""
    sctx = server_context(smod, certs)
    pin_version(sctx, smod, version)
    with TLSServer(sctx) as server:
        cctx = client_context(cmod, certs)
        with socket.create_connection(server.address) as raw:
            with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    got += conn.recv(65536)
                seen = (type(conn).__module__, conn.version(), conn.cipher(),
                        conn.getpeercert(True), conn.compression(), conn.pending(),
                        conn.selected_alpn_protocol(), conn.server_side, conn.server_hostname)
    assert server.errors == []
    assert got == payload
    return seen


# ---- both directions and same side ---------------------------------------------------------

@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("server", sorted(MODULES))
@pytest.mark.parametrize("client", sorted(MODULES))
def test_echo_both_directions(certs, client, server, version):
    mine = exchange(MODULES[client], MODULES[server], certs, version)
    reference = exchange(ssl, ssl, certs, version)
    expected_module = "tlsctx" if client == "tlsctx" else "ssl"
    assert mine[0] == expected_module
    assert mine[1] == version
    assert mine[1:] == reference[1:]


@pytest.mark.parametrize("server", sorted(MODULES))
@pytest.mark.parametrize("client", sorted(MODULES))
def test_mutual_tls(certs, client, server):
    smod, cmod = MODULES[server], MODULES[client]

    def handler(conn):
        conn.sendall(b"ok")
        return (conn.getpeercert(True), conn.get_unverified_chain()
                if hasattr(conn, "get_unverified_chain") else None)

    with TLSServer(server_context(smod, certs, client_auth=True), handler) as srv:
        cctx = client_context(cmod, certs, certfile=certs.client)
        with socket.create_connection(srv.address) as raw:
            with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                assert conn.recv(2) == b"ok"
    assert srv.errors == []
    peer_der, chain = srv.results[0]
    assert peer_der == certs.client_der
    if server == "tlsctx" or STDLIB_DIFFERENCES["chains"]:
        assert chain[0] == certs.client_der


def test_mutual_tls_missing_client_cert(certs):
    """A server that requires a client certificate rejects a client without one."""
    outcomes = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(tlsctx, certs, client_auth=True)) as srv:
            cctx = client_context(cmod, certs)
            with socket.create_connection(srv.address) as raw:
                with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                    with pytest.raises(ssl.SSLError) as info:
                        conn.recv(10)   # (sending first could meet a reset instead)
                    outcomes[name] = error_outcome(info.value)
        assert [error_outcome(e)[4] for e in srv.errors] == ["PEER_DID_NOT_RETURN_A_CERTIFICATE"]
    assert outcomes["tlsctx"] == outcomes["stdlib"]


# ---- session resumption ----------------------------------------------------------------------

def resume(cmod, smod, certs, version):
    def handler(conn):
        conn.sendall(b"hi")
        conn.recv(1)

    sctx = server_context(smod, certs)
    pin_version(sctx, smod, version)
    cctx = client_context(cmod, certs)
    seen = []
    with TLSServer(sctx, handler) as srv:
        session = None
        for _ in range(2):
            with socket.create_connection(srv.address) as raw:
                with cctx.wrap_socket(raw, server_hostname="localhost", session=session) as conn:
                    assert conn.recv(2) == b"hi"   # TLS 1.3 tickets come after the handshake
                    seen.append((conn.session_reused, conn.session is not None))
                    session = conn.session
                    conn.sendall(b"!")
    assert srv.errors == []
    return seen, session


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("server", sorted(MODULES))
def test_session_resumption(certs, server, version):
    mine, session = resume(tlsctx, MODULES[server], certs, version)
    theirs, std_session = resume(ssl, MODULES[server], certs, version)
    assert mine == theirs == [(False, True), (True, True)]
    assert type(session) is tlsctx.SSLSession
    for attr in ("has_ticket", "timeout", "ticket_lifetime_hint"):
        assert getattr(session, attr) == getattr(std_session, attr), attr
    assert len(session.id) == len(std_session.id)
    assert isinstance(session.time, int)
    assert session == session and not (session != session)
    assert session.__eq__(object()) is NotImplemented


def test_session_errors_match_stdlib(certs):
    _, session = resume(tlsctx, tlsctx, certs, "TLSv1.3")
    outcomes = {}
    for name, mod in MODULES.items():
        got = []
        sctx = server_context(mod, certs)
        other = client_context(mod, certs)
        with TLSServer(sctx) as srv:
            with socket.create_connection(srv.address) as raw:
                conn = other.wrap_socket(raw, server_hostname="localhost",
                                         do_handshake_on_connect=False)
                for value in ("not a session", session if mod is tlsctx else None):
                    if value is None:
                        continue
                    try:
                        conn.session = value
                    except Exception as exc:  # noqa: BLE001
                        got.append((type(exc).__name__, str(exc)))
                conn.do_handshake()
                conn.close()
        outcomes[name] = got
    assert outcomes["tlsctx"][0] == outcomes["stdlib"][0] == ("TypeError", "Value is not a SSLSession.")
    assert outcomes["tlsctx"][1] == ("ValueError", "Session refers to a different SSLContext.")
    with pytest.raises(TypeError):
        tlsctx.SSLSession()


# ---- errors provoked for real ----------------------------------------------------------------

def failed_handshake(cmod, certs, server_cert, hostname="localhost", server_mod=ssl):
    with TLSServer(server_context(server_mod, certs, certfile=server_cert)) as srv:
        cctx = client_context(cmod, certs)
        with socket.create_connection(srv.address) as raw:
            with pytest.raises(ssl.SSLError) as info:
                cctx.wrap_socket(raw, server_hostname=hostname)
    return info.value


@pytest.mark.parametrize("case", ["wrong CA", "expired", "wrong host name", "IP mismatch"])
def test_certificate_verification_errors(certs, case):
    cert, host = {"wrong CA": (certs.untrusted, "localhost"),
                  "expired": (certs.expired, "localhost"),
                  "wrong host name": (certs.wrong_name, "localhost"),
                  "IP mismatch": (certs.wrong_name, HOST)}[case]
    mine = failed_handshake(tlsctx, certs, cert, host)
    theirs = failed_handshake(ssl, certs, cert, host)
    assert isinstance(mine, tlsctx.SSLCertVerificationError)
    assert isinstance(mine, ssl.SSLCertVerificationError)
    assert isinstance(mine, ssl.CertificateError) and isinstance(mine, ValueError)
    assert error_outcome(mine) == error_outcome(theirs)
    assert mine.verify_code != 0


def test_server_rejects_untrusted_client(certs):
    """The tlsctx server's own verification failure, seen on the server."""
    outcomes = {}
    for name, smod in MODULES.items():
        with TLSServer(server_context(smod, certs, client_auth=True)) as srv:
            cctx = client_context(ssl, certs)
            cctx.load_cert_chain(certs.untrusted)
            with socket.create_connection(srv.address) as raw:
                try:
                    with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                        conn.recv(1)
                except ssl.SSLError:
                    pass
        assert len(srv.errors) == 1
        outcomes[name] = error_outcome(srv.errors[0])
    assert outcomes["tlsctx"] == outcomes["stdlib"]
    assert outcomes["tlsctx"][0] == "SSLCertVerificationError"


def ragged_close(conn):
    """Handler: answer, then close the TCP connection without close_notify."""
    conn.recv(10)
    conn.sendall(b"partial")
    socket.socket.shutdown(conn, socket.SHUT_RDWR)


# Debian's 3.11.2 (and CPython before gh-95494: 3.10.11, 3.11.3) sets
# OP_IGNORE_UNEXPECTED_EOF on fresh contexts, so its stdlib reads a ragged close
# as a clean end of data, and without the option reports it as a plain SSLError.
# tlsctx leaves it unset, as the newest stdlib does (test_parity's
# PATCH_DIFFERENCES["fresh_context.options"]): the stdlib side of the
# comparison runs with the newest defaults, and the old default's own
# answer is checked separately.
OLD_IGNORE_EOF_DEFAULT = bool(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).options
                              & ssl.OP_IGNORE_UNEXPECTED_EOF)


@pytest.mark.parametrize("suppress", [True, False])
def test_peer_closing_mid_stream(certs, suppress):
    outcomes = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(ssl, certs), ragged_close) as srv:
            cctx = client_context(cmod, certs)
            if cmod is ssl:
                cctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
            with socket.create_connection(srv.address) as raw:
                with cctx.wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=suppress) as conn:
                    conn.sendall(b"go")
                    got = conn.recv(100)
                    try:
                        result = ("ok", conn.recv(100))
                    except ssl.SSLError as exc:
                        result = error_outcome(exc)
        outcomes[name] = (got, result)
    if OLD_IGNORE_EOF_DEFAULT:
        # the same release still reports the truncation as a plain SSLError
        # (errno 1), which suppress_ragged_eofs does not cover; tlsctx gives
        # the newest stdlib's SSLEOFError (errno 8)
        assert outcomes["stdlib"] == (b"partial", (
            "SSLError", "[SSL: UNEXPECTED_EOF_WHILE_READING] unexpected eof while reading", 1,
            "SSL", "UNEXPECTED_EOF_WHILE_READING", None, None))
        assert outcomes["tlsctx"] == (b"partial", ("ok", b"") if suppress else (
            "SSLEOFError", "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of "
            "protocol", 8, "SSL", "UNEXPECTED_EOF_WHILE_READING", None, None))
    else:
        assert outcomes["tlsctx"] == outcomes["stdlib"]
    if not suppress:
        assert outcomes["tlsctx"][1][0] == "SSLEOFError"


@pytest.mark.skipif(not OLD_IGNORE_EOF_DEFAULT, reason="this stdlib's fresh contexts leave "
                    "OP_IGNORE_UNEXPECTED_EOF unset, as tlsctx's do: nothing differs")
def test_old_ignore_eof_default_hides_truncation(certs):
    """The documented difference itself: this stdlib, left at its defaults,
    reads the truncation as end of data; tlsctx raises SSLEOFError."""
    seen = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(ssl, certs), ragged_close) as srv:
            with socket.create_connection(srv.address) as raw:
                with client_context(cmod, certs).wrap_socket(
                        raw, server_hostname="localhost", suppress_ragged_eofs=False) as conn:
                    conn.sendall(b"go")
                    conn.recv(100)
                    try:
                        seen[name] = ("ok", conn.recv(100))
                    except ssl.SSLError as exc:
                        seen[name] = (type(exc).__name__,)
    assert seen == {"stdlib": ("ok", b""), "tlsctx": ("SSLEOFError",)}


def reset_after_reply(conn):
    """Handler: answer, wait for the client's go-ahead, then reset the TCP
    connection (SO_LINGER 0) instead of closing it."""
    conn.recv(10)
    conn.sendall(b"partial")
    conn.recv(10)
    raw = socket.socket(fileno=conn.detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


@pytest.mark.parametrize("suppress", [True, False])
def test_peer_reset_mid_stream(certs, suppress):
    """A TCP reset while reading raises ConnectionResetError, as 3.13+ do;
    3.10-3.12 report it as an SSLEOFError (which suppress_ragged_eofs then
    turns into b'')."""
    outcomes = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(ssl, certs), reset_after_reply) as srv:
            with socket.create_connection(srv.address) as raw:
                cctx = client_context(cmod, certs)
                with cctx.wrap_socket(raw, server_hostname="localhost",
                                      suppress_ragged_eofs=suppress) as conn:
                    conn.sendall(b"go")
                    got = conn.recv(100)
                    conn.sendall(b"ok")
                    try:
                        result = ("ok", conn.recv(100))
                    except OSError as exc:
                        result = (type(exc).__name__, exc.errno)
        outcomes[name] = (got, result)
    assert outcomes["tlsctx"] == (b"partial", ("ConnectionResetError", errno.ECONNRESET))
    if differs_here("peer_reset"):
        assert outcomes["stdlib"] == (b"partial", ("ok", b"") if suppress
                                      else ("SSLEOFError", ssl.SSL_ERROR_EOF))
    else:
        assert outcomes["stdlib"] == outcomes["tlsctx"]


def test_clean_close_and_zero_return(certs):
    """Over memory BIOs: unwrap on one side; the other reads EOF, then
    SSLZeroReturnError once it has shut down too."""
    outcomes = {}
    for name, mod in MODULES.items():
        client, server = bio_pair(mod, certs)
        steps = []
        for action in (client.unwrap, lambda: server.read(10), server.unwrap,
                       lambda: server.read(10)):
            try:
                steps.append(("ok", action() if action is not client.unwrap else None))
            except (ssl.SSLError, OSError) as exc:
                steps.append(error_outcome(exc))
            pump(mod, client, server)
        outcomes[name] = steps
    assert outcomes["tlsctx"] == outcomes["stdlib"]
    assert outcomes["tlsctx"][-1][0] == "SSLZeroReturnError"


# ---- non-blocking and timeouts -----------------------------------------------------------------

def test_non_blocking_handshake_and_read(certs):
    outcomes = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(tlsctx, certs)) as srv:
            cctx = client_context(cmod, certs)
            raw = socket.create_connection(srv.address)
            raw.setblocking(False)
            conn = cctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
            wants = set()
            while True:
                try:
                    conn.do_handshake()
                    break
                except ssl.SSLWantReadError as exc:
                    wants.add(error_outcome(exc))
                    select.select([conn], [], [], 10)
                except ssl.SSLWantWriteError as exc:
                    wants.add(error_outcome(exc))
                    select.select([], [conn], [], 10)
            with pytest.raises(ssl.SSLWantReadError) as info:
                conn.recv(10)
            read_error = error_outcome(info.value)
            conn.sendall(b"hello")
            got = b""
            while got != b"hello":
                select.select([conn], [], [], 10)
                try:
                    got += conn.recv(10)
                except ssl.SSLWantReadError:
                    pass
            conn.close()
        outcomes[name] = (wants, read_error, got)
    # how often each side had to wait depends on timing (a descheduled client
    # can find the whole server flight waiting and never wait at all):
    # compare the kinds of wait, which must be one and the same
    def want_reads(name):
        return {w for w in outcomes[name][0] if w[0] == "SSLWantReadError"}

    assert len(want_reads("tlsctx") | want_reads("stdlib")) <= 1
    assert outcomes["tlsctx"][1:] == outcomes["stdlib"][1:]
    assert outcomes["tlsctx"][1][0] == "SSLWantReadError"


def silent(conn):
    """Handler (unwrapped): accept TCP and say nothing until the client leaves."""
    while conn.recv(65536):
        pass


def quiet_tls(conn):
    """Handler: finish the handshake, then say nothing until the client leaves."""
    conn.recv(10)


@pytest.mark.parametrize("stage", ["handshake", "read"])
def test_timeouts(certs, stage):
    outcomes = {}
    for name, cmod in MODULES.items():
        handler, wrap = (silent, False) if stage == "handshake" else (quiet_tls, True)
        with TLSServer(server_context(tlsctx, certs), handler, wrap=wrap) as srv:
            cctx = client_context(cmod, certs)
            raw = socket.create_connection(srv.address)
            raw.settimeout(0.3)
            conn = None
            try:
                conn = cctx.wrap_socket(raw, server_hostname="localhost")
                conn.recv(10)
            except Exception as exc:  # noqa: BLE001
                outcomes[name] = (type(exc).__name__, message(exc))
            (conn or raw).close()
    assert outcomes["tlsctx"] == outcomes["stdlib"]
    assert outcomes["tlsctx"][0] == "TimeoutError"


# ---- memory BIOs --------------------------------------------------------------------------------

def pump(mod, a, b):
    """Move pending bytes between two SSLObjects' BIOs until both are idle."""
    moved = True
    while moved:
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src._outgoing_bio.read()
            if data:
                dst._incoming_bio.write(data)
                moved = True


def bio_pair(client_mod, certs, server_mod=None, bio_mod=None):
    """A handshaken (client, server) pair of SSLObjects over memory BIOs."""
    server_mod = server_mod or client_mod
    bio_mod = bio_mod or client_mod
    objs = []
    for mod, side in ((client_mod, "client"), (server_mod, "server")):
        # the stdlib only takes its own BIOs; tlsctx takes either kind
        bios = bio_mod if mod is tlsctx else ssl
        incoming, outgoing = bios.MemoryBIO(), bios.MemoryBIO()
        if side == "client":
            obj = client_context(mod, certs).wrap_bio(incoming, outgoing,
                                                      server_hostname="localhost")
        else:
            obj = server_context(mod, certs).wrap_bio(incoming, outgoing, server_side=True)
        obj._incoming_bio, obj._outgoing_bio = incoming, outgoing
        objs.append(obj)
    client, server = objs
    for _ in range(10):
        for obj in objs:
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        pump(bio_mod, client, server)
    assert client.version() is not None and server.version() is not None
    return client, server


@pytest.mark.parametrize("bios", ["tlsctx", "stdlib"])
@pytest.mark.parametrize("pairing", ["tlsctx-tlsctx", "tlsctx-stdlib", "stdlib-tlsctx"])
def test_wrap_bio(certs, pairing, bios, stdlib_bio_path):
    """wrap_bio with tlsctx's and with the stdlib's MemoryBIO (as asyncio passes),
    the stdlib's driven directly and through its Python methods."""
    cname, sname = pairing.split("-")
    client, server = bio_pair(MODULES[cname], certs, MODULES[sname], MODULES[bios])
    if cname == "tlsctx":
        assert type(client) is tlsctx.SSLObject
    with pytest.raises(ssl.SSLWantReadError):
        client.read(10)
    payload = os.urandom(100000)
    assert client.write(payload) == len(payload)
    pump(None, client, server)
    got = b""
    while len(got) < len(payload):
        got += server.read(65536)
    assert got == payload
    buf = bytearray(10)
    server.write(b"0123456789")
    pump(None, client, server)
    assert client.read(10, buf) == 10 and buf == b"0123456789"
    assert client.get_channel_binding("tls-unique") == server.get_channel_binding("tls-unique")
    assert client.context is not None and client.server_hostname == "localhost"
    assert server.server_side and not client.server_side


def test_memory_bio_matches_stdlib():
    def script(mod):
        bio = mod.MemoryBIO()
        out = [bio.pending, bio.eof, bio.write(b"abcdef"), bio.write(bytearray(b"gh")),
               bio.pending, bio.read(3), bio.read(), bio.read(), bio.eof]
        bio.write_eof()
        out.append(bio.eof)
        try:
            bio.write(b"x")
        except ssl.SSLError as exc:
            out.append((type(exc).__name__, str(exc)))
        for bad in (lambda: mod.MemoryBIO(1), lambda: bio.write("str")):
            try:
                bad()
            except TypeError as exc:
                out.append(type(exc).__name__)
        return out

    assert script(tlsctx) == script(ssl)


def test_wrap_bio_rejects_non_bio(certs):
    ctx = client_context(tlsctx, certs)
    with pytest.raises(TypeError):
        ctx.wrap_bio(object(), tlsctx.MemoryBIO(), server_hostname="localhost")


# ---- openssl processes as peers --------------------------------------------------------------

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


@needs_openssl
@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_client_against_openssl_s_server(certs, version):
    flag = "-tls1_2" if version == "TLSv1.2" else "-tls1_3"
    with OpenSSLServer(certs, flag) as srv:
        cctx = client_context(tlsctx, certs)
        with socket.create_connection(srv.address) as raw:
            with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"hello tlsctx\n")
                got = b""
                while not got.endswith(b"\n"):
                    got += conn.recv(100)
                assert conn.version() == version
    assert got == b"xtcslt olleh\n"


@needs_openssl
@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_openssl_s_client_against_server(certs, version):
    def line_echo(conn):
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"echo " + data)
        return conn.version()

    flag = "-tls1_2" if version == "TLSv1.2" else "-tls1_3"
    with TLSServer(server_context(tlsctx, certs), line_echo) as srv:
        rc, out = openssl_client(srv.port, certs, flag, data=b"from s_client\n")
    assert srv.errors == []
    assert srv.results == [version]
    assert b"echo from s_client\n" in out, out


# ---- SSLSocket paths -----------------------------------------------------------------------------

def test_socket_api_paths(certs, tmp_path):
    """makefile, sendfile, recv_into, pending, shared_ciphers, channel binding,
    unwrap back to cleartext, and the context switch."""
    # no newline in the echoed prefix: the client reads it back with readline()
    blob = os.urandom(300000).replace(b"\n", b"n")
    path = tmp_path / "blob"
    path.write_bytes(blob)

    def handler(conn):
        got = b""
        while len(got) < len(blob):
            got += conn.recv(65536)
        conn.sendall(got[:10] + b"\n")
        binding = conn.get_channel_binding()
        shared = conn.shared_ciphers()
        plain = conn.unwrap()
        assert plain.recv(2) == b"go"   # the client is unwrapped too: no TLS left in flight
        plain.sendall(b"cleartext")
        return got == blob, binding, shared

    with TLSServer(server_context(tlsctx, certs), handler) as srv:
        cctx = client_context(tlsctx, certs)
        with socket.create_connection(srv.address) as raw:
            conn = cctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
            other = client_context(tlsctx, certs)
            conn.context = other
            assert conn.context is other
            with pytest.raises(TypeError):
                conn.context = ssl.create_default_context()
            conn.do_handshake()
            with open(path, "rb") as f:
                assert conn.sendfile(f) == len(blob)
            reader = conn.makefile("rb")
            assert reader.readline() == blob[:10] + b"\n"
            reader.close()
            binding = conn.get_channel_binding("tls-unique")
            with pytest.raises(ValueError):
                conn.get_channel_binding("tls-server-end-point")
            assert conn.pending() == 0
            plain = conn.unwrap()
            plain.sendall(b"go")
            got = bytearray()
            while len(got) < 9:
                buf = bytearray(9 - len(got))
                n = plain.recv_into(buf)
                assert n > 0
                got += buf[:n]
            assert got == b"cleartext"
            plain.close()
    assert srv.errors == []
    ok, server_binding, shared = srv.results[0]
    assert ok and server_binding == binding and len(binding) > 0
    assert shared and all(len(c) == 3 for c in shared)


def test_getpeercert_before_handshake_and_unverified(certs):
    """Values that do not need the certificate decoder, compared with stdlib."""
    outcomes = {}
    for name, mod in MODULES.items():
        with TLSServer(server_context(tlsctx, certs)) as srv:
            cctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
            cctx.check_hostname = False
            cctx.verify_mode = mod.CERT_NONE
            with socket.create_connection(srv.address) as raw:
                conn = cctx.wrap_socket(raw, do_handshake_on_connect=False)
                got = [conn.version(), conn.cipher()]
                try:
                    conn.getpeercert()
                except ValueError as exc:
                    got.append(str(exc))
                conn.do_handshake()
                got += [conn.getpeercert(), len(conn.getpeercert(True)), conn.session_reused,
                        conn.get_verified_chain() if mod is tlsctx else None]
                conn.close()
        outcomes[name] = got
    mine, theirs = outcomes["tlsctx"], outcomes["stdlib"]
    assert mine[:6] == theirs[:6]
    assert mine[1] is None and mine[3] == {}
    assert [len(c) for c in mine[6]] == [mine[4]]   # no verification: the peer's certificate only


def test_getpeercert_dict_matches_stdlib(certs):
    """Needs tlsctx_decode_certificate (certdecode.c, another branch): this
    test fails with NotImplementedError until that branch is merged."""
    seen = {}
    for name, mod in MODULES.items():
        with TLSServer(server_context(ssl, certs)) as srv:
            with socket.create_connection(srv.address) as raw:
                with client_context(mod, certs).wrap_socket(raw, server_hostname="localhost") as conn:
                    seen[name] = conn.getpeercert()
    assert seen["tlsctx"] == seen["stdlib"]


def test_wrap_socket_argument_errors(certs):
    def attempts(mod):
        out = []
        server = server_context(mod, certs)
        client = client_context(mod, certs)
        plain = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        plain.check_hostname = False
        cases = [
            lambda s: client.wrap_socket(s),                            # check_hostname
            lambda s: server.wrap_socket(s, server_side=True, server_hostname="x"),
            lambda s: client.wrap_socket(s, server_hostname=""),
            # (bytes skip the idna step, so the connection object checks the name)
            lambda s: client.wrap_bio(mod.MemoryBIO(), mod.MemoryBIO(),
                                      server_hostname=b".example.org"),
            lambda s: server.wrap_socket(s, do_handshake_on_connect=False),  # wrong side
            lambda s: plain.wrap_socket(s, server_side=True, do_handshake_on_connect=False),
            lambda s: client._wrap_socket(object(), False),
        ]
        listener = socket.create_server((HOST, 0))
        for case in cases:
            # connected, so that the connection object is made (and checks)
            with socket.create_connection(listener.getsockname()) as s, listener.accept()[0]:
                try:
                    result = case(s)
                    getattr(result, "close", lambda: None)()
                    out.append("ok")
                except (ValueError, TypeError, ssl.SSLError) as exc:
                    out.append((type(exc).__name__, message(exc)))
        listener.close()
        return out

    mine, theirs = attempts(tlsctx), attempts(ssl)
    assert mine[:6] == theirs[:6]
    assert "ok" not in mine
    assert mine[6][0] == theirs[6][0] == "TypeError"


def test_unconnected_socket_then_connect(certs):
    """wrap first, connect later: the SSL object is made by connect()."""
    with TLSServer(server_context(tlsctx, certs)) as srv:
        conn = client_context(tlsctx, certs).wrap_socket(socket.socket(),
                                                         server_hostname="localhost")
        conn.connect(srv.address)
        conn.sendall(b"late")
        assert conn.recv(4) == b"late"
        conn.close()
    assert srv.errors == []


# ---- trust isolation ---------------------------------------------------------------------------

def test_capath_lookups_do_not_leak_between_contexts(certs, tmp_path):
    """A connection verified through one context (CA found in a capath) never
    changes what another context with the same trust reports."""
    if OPENSSL is None:
        pytest.skip("the openssl command is needed to name a capath entry")
    subject_hash = subprocess.run([OPENSSL, "x509", "-hash", "-noout", "-in", certs.cafile],
                                  check=True, capture_output=True, text=True).stdout.strip()
    capath = tmp_path / "capath"
    capath.mkdir()
    shutil.copy(certs.cafile, capath / (subject_hash + ".0"))

    def run(mod):
        used = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        used.load_verify_locations(capath=str(capath))
        bystander = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        bystander.load_verify_locations(capath=str(capath))
        before = (used.cert_store_stats(), bystander.cert_store_stats(), bystander.get_ca_certs(True))
        with TLSServer(server_context(ssl, certs)) as srv:
            with socket.create_connection(srv.address) as raw:
                with used.wrap_socket(raw, server_hostname="localhost") as conn:
                    conn.sendall(b"x")
                    conn.recv(1)
        after = (used.cert_store_stats(), bystander.cert_store_stats(), bystander.get_ca_certs(True))
        return before, after

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    (used_before, by_before, by_certs_before), (used_after, by_after, by_certs_after) = mine
    assert used_after["x509_ca"] == used_before["x509_ca"] + 1   # the look-up happened
    assert by_after == by_before and by_certs_after == by_certs_before


# ---- exceptions are the stdlib's too -------------------------------------------------------------

def test_errors_are_caught_as_stdlib_errors(certs):
    exc = failed_handshake(tlsctx, certs, certs.untrusted)
    try:
        raise exc
    except ssl.SSLError as caught:
        assert caught.reason == "CERTIFICATE_VERIFY_FAILED"
    client, _server = bio_pair(tlsctx, certs)
    with pytest.raises(ssl.SSLWantReadError) as info:
        client.read(1)
    assert info.value.errno == ssl.SSL_ERROR_WANT_READ
    assert isinstance(info.value, tlsctx.SSLWantReadError)


@pytest.mark.parametrize("verify", [False, True])
def test_get_server_certificate_like_stdlib(certs, verify):
    """The module-level helper returns the stdlib's PEM for the same server,
    unverified or checked against ca_certs."""
    kwargs = {"ca_certs": certs.cafile} if verify else {}
    with TLSServer(server_context(ssl, certs)) as srv:
        mine = tlsctx.get_server_certificate(srv.address, timeout=10, **kwargs)
    with TLSServer(server_context(ssl, certs)) as srv:
        theirs = ssl.get_server_certificate(srv.address, timeout=10, **kwargs)
    assert mine == theirs and mine.startswith("-----BEGIN CERTIFICATE-----\n")


def test_get_server_certificate_untrusted_like_stdlib(certs):
    with TLSServer(server_context(ssl, certs)) as srv:
        with pytest.raises(tlsctx.SSLCertVerificationError) as mine:
            tlsctx.get_server_certificate(srv.address, ca_certs=_other_ca(certs))
    with TLSServer(server_context(ssl, certs)) as srv:
        with pytest.raises(ssl.SSLCertVerificationError) as theirs:
            ssl.get_server_certificate(srv.address, ca_certs=_other_ca(certs))
    assert (mine.value.verify_code, mine.value.verify_message) == \
        (theirs.value.verify_code, theirs.value.verify_message)


def _other_ca(certs):
    path = os.path.join(certs.dir, "other-ca.pem")
    certs.other_ca.cert_pem.write_to_path(path)
    return path


# ---- CPython 3.15's sendfile and kernel TLS queries; 3.14's remembered EOF ---------------------

HAS_KTLS_QUERIES = hasattr(ssl.SSLObject, "uses_ktls_for_send") or sys.version_info >= (3, 15)
# what 3.15.2's _SSLSocket answers here (no kernel TLS), for older stdlibs
SENDFILE_315 = {
    "uses_ktls": (False, False),
    (): ("TypeError", "sendfile expected at least 3 arguments, got 0"),
    (1, 2, 3, 4, 5): ("TypeError", "sendfile expected at most 4 arguments, got 5"),
    ("x", 0, 1): ("TypeError", "'str' object cannot be interpreted as an integer"),
    (0, 0.5, 1): ("TypeError", "'float' object cannot be interpreted as an integer"),
    (0, 0, "x"): ("TypeError", "'str' object cannot be interpreted as an integer"),
    (0, 0, -1): ("ValueError", "Cannot convert negative int"),
    (0, 0, 2**64): ("OverflowError", "Python int too large for C size_t"),
    (0, 2**63, 1): ("OverflowError", "Python int too large to convert to C long"),
    (2**40, 0, 1): ("OverflowError", "Python int too large to convert to C int"),
    (0, 0, 1, 2**40): ("OverflowError", "Python int too large to convert to C int"),
    "file": ("SSLError", "Some I/O error occurred in sendfile()", 0, None, None),
}


def sendfile_probe(cmod, certs, path):
    answers = {}
    with TLSServer(server_context(ssl, certs)) as srv:
        with socket.create_connection(srv.address) as raw:
            with client_context(cmod, certs).wrap_socket(raw, server_hostname="localhost") as conn:
                obj = conn._sslobj
                if not hasattr(obj, "sendfile"):
                    return None
                answers["uses_ktls"] = (obj.uses_ktls_for_send(), obj.uses_ktls_for_recv())
                for args in [a for a in SENDFILE_315 if isinstance(a, tuple)]:
                    try:
                        answers[args] = ("ok", obj.sendfile(*args))
                    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
                        answers[args] = (type(exc).__name__, message(exc))
                fd = os.open(path, os.O_RDONLY)
                try:
                    obj.sendfile(fd, 0, 10)
                except ssl.SSLError as exc:
                    answers["file"] = (type(exc).__name__, message(exc), exc.errno,
                                       exc.library, exc.reason)
                finally:
                    os.close(fd)
                # the connection still works after the failed zero-copy attempt
                conn.sendall(b"after")
                answers["echo"] = conn.recv(100)
    return answers


def test_sslobject_sendfile_without_ktls(certs, tmp_path):
    """_sslobj.sendfile / uses_ktls_for_*: this kernel has no kernel TLS, so
    SSL_sendfile refuses, in the stdlib's words."""
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 1000)
    mine = sendfile_probe(tlsctx, certs, path)
    theirs = sendfile_probe(ssl, certs, path)
    assert mine.pop("echo") == b"after"
    if theirs is None:
        print("stdlib %s has no _SSLSocket.sendfile: compared with 3.15.2's answers"
              % sys.version.split()[0])
        theirs = dict(SENDFILE_315)
    else:
        assert theirs.pop("echo") == b"after"
        assert theirs == SENDFILE_315
    assert mine == theirs


@pytest.mark.parametrize("offset,count", [(0, None), (10, 5000), (299990, None), (5, 1)])
def test_sslsocket_sendfile_falls_back_like_the_stdlib(certs, tmp_path, offset, count):
    """SSLSocket.sendfile without kernel TLS goes through send(): bytes sent,
    file position and what the peer got match the stdlib's."""
    blob = os.urandom(300000)
    path = tmp_path / "blob"
    path.write_bytes(blob)
    want = len(blob[offset:None if count is None else offset + count])

    def handler(conn):
        got = b""
        while len(got) < want:
            got += conn.recv(65536)
        conn.sendall(b"ok")
        return got

    results = {}
    for name, cmod in MODULES.items():
        with TLSServer(server_context(ssl, certs), handler) as srv:
            with socket.create_connection(srv.address) as raw:
                with client_context(cmod, certs).wrap_socket(raw, server_hostname="localhost") as conn:
                    with open(path, "rb") as f:
                        sent = conn.sendfile(f, offset, count)
                        where = f.tell()
                    assert conn.recv(2) == b"ok"
        results[name] = (sent, where, srv.results)
    assert results["tlsctx"] == results["stdlib"]
    assert results["tlsctx"][2] == [blob[offset:offset + want]]


def eof_server(conn):
    conn.sendall(b"server\n")
    socket.socket.shutdown(conn, socket.SHUT_RDWR)


def test_eof_is_remembered(certs, tmp_path):
    """gh-148292 (CPython 3.14+): after the first SSLEOFError, read, sendfile,
    write and do_handshake raise SSLEOFError again on every OpenSSL."""
    path = tmp_path / "blob"
    path.write_bytes(b"x")
    outcomes, expected = {}, {}
    for name, cmod in MODULES.items():
        steps = []
        with TLSServer(server_context(ssl, certs), eof_server) as srv:
            with socket.create_connection(srv.address) as raw:
                conn = client_context(cmod, certs).wrap_socket(raw, server_hostname="localhost")
                obj = conn._sslobj
                fd = os.open(path, os.O_RDONLY)
                calls = [lambda: obj.read(1024), lambda: obj.read(1024), lambda: obj.read(1024),
                         lambda: obj.write(b"client2\n"), conn.do_handshake]
                if hasattr(obj, "sendfile"):
                    calls.insert(3, lambda: obj.sendfile(fd, 0, 1))
                for call in calls:
                    try:
                        steps.append(("ok", call()))
                    except (ssl.SSLError, OSError) as exc:
                        steps.append((type(exc).__name__, exc.errno))
                os.close(fd)
                steps.append(("pending", conn.pending()))
                conn.close()
        eof = ("SSLEOFError", ssl.SSL_ERROR_EOF)
        expected[name] = [("ok", b"server\n")] + [eof] * (len(calls) - 1) + [("pending", 0)]
        outcomes[name] = steps
    assert outcomes["tlsctx"] == expected["tlsctx"]
    if not differs_here("eof_remembered"):
        assert outcomes["stdlib"] == expected["stdlib"]
    else:
        print("stdlib %s before gh-148292: %r" % (sys.version.split()[0], outcomes["stdlib"]))


# ---- where the running ssl.py is older than the newest ------------------------------------------

# CPython 3.14's SSLObject parameter checks (_check_sslobject_params), which
# SSLSocket already had: what 3.15.2 raises for each.
SSLOBJECT_PARAMS_315 = {
    "server_side with server_hostname": ("ValueError",
                                         "server_hostname can only be specified in client mode"),
    "server_side with session": ("ValueError", "session can only be specified in client mode"),
    "check_hostname without server_hostname": ("ValueError",
                                               "check_hostname requires server_hostname"),
    "check_hostname with an empty server_hostname": ("ValueError",
                                                     "check_hostname requires server_hostname"),
}


@pytest.mark.parametrize("case", list(SSLOBJECT_PARAMS_315))
def test_wrap_bio_parameter_checks(case):
    def attempt(mod):
        server = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
        client = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        bios = (ssl.MemoryBIO(), ssl.MemoryBIO())
        try:
            if case == "server_side with server_hostname":
                server.wrap_bio(*bios, server_side=True, server_hostname="example.org")
            elif case == "server_side with session":
                server.wrap_bio(*bios, server_side=True, session=object())
            elif case == "check_hostname without server_hostname":
                client.wrap_bio(*bios)
            else:
                client.wrap_bio(*bios, server_hostname="")
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome
            return type(exc).__name__, message(exc)
        return "ok"
    assert attempt(tlsctx) == SSLOBJECT_PARAMS_315[case]
    if not differs_here("SSLObject._create"):
        assert attempt(ssl) == SSLOBJECT_PARAMS_315[case]
    else:
        # before 3.14 the C layer catches some of these cases itself, depending
        # on the release (Debian's 3.11.2 refuses both server_side cases)
        print("stdlib %s before 3.14: %r" % (sys.version.split()[0], attempt(ssl)))


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class _Interrupted(Exception):
    pass


def interrupted_handshake(mod, certs, how):
    """wrap_socket() against a peer that never answers, failing with an
    exception other than OSError/ValueError (a signal handler's during the
    handshake, or the TypeError of a host name holding a NUL): whether the
    new socket's descriptor is still open while the exception (and its
    traceback) is alive."""
    listener = socket.create_server((HOST, 0))
    accepted, release = [], threading.Event()

    def accept():
        conn, _ = listener.accept()
        accepted.append(conn)
        release.wait(10)

    thread = threading.Thread(target=accept)
    thread.start()

    def on_alarm(signum, frame):
        raise _Interrupted("handshake interrupted")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    before = open_fds()
    raw = socket.create_connection(listener.getsockname())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        client_context(mod, certs).wrap_socket(
            raw, server_hostname="localhost" if how == "signal" else "local\0host")
    except (_Interrupted, TypeError) as exc:
        leaked = open_fds() - before - len(accepted)
        # close what an old ssl.py left open: the SSLSocket in _create's frame
        tb = exc.__traceback__
        while tb is not None:
            orphan = tb.tb_frame.f_locals.get("self")
            if isinstance(orphan, socket.socket):
                orphan.close()
            tb = tb.tb_next
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
        raw.close()
    return leaked


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
@pytest.mark.parametrize("how", ["signal", "host name"])
def test_failed_wrap_socket_closes_the_socket(certs, how):
    """An exception other than OSError/ValueError while wrap_socket() builds
    the SSLSocket or runs its handshake: the new socket is closed before the
    exception propagates, as 3.13+ do; 3.10-3.12's ssl.py left its
    descriptor open."""
    assert interrupted_handshake(tlsctx, certs, how) == 0
    stdlib_leaks = interrupted_handshake(ssl, certs, how)
    assert stdlib_leaks == (1 if differs_here("SSLSocket._create") else 0)
