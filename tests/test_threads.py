"""Issue 14, the connection side: threads, callbacks and asyncio.

Real handshakes over memory BIOs (driven in Python, so several run at once in
threads while OpenSSL works without the GIL) and over loopback sockets; every
loop is bounded by a count and every thread joined with a time limit, so a
hang fails the test instead of stalling the run.

The stdlib is the control where it has the API and survives the scenario;
where it crashes (set_ciphers or load_cert_chain mid-handshake, an SNI
callback re-entering do_handshake) or races (set_alpn_protocols), the test
says so and runs tlsctx alone."""
import asyncio
import os
import re
import ssl
import subprocess
import sys
import textwrap
import threading

import pytest

import tlsctx
from peers import HOST, Certs, MODULES, TLSServer

JOIN = 120   # seconds: a safety net against a hang, not a timing check


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("threads"))


def server_ctx(mod, certs, **kw):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.server)
    return ctx


def client_ctx(mod, certs):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.cafile)
    return ctx


class Pair:
    """A client and a server connection joined by memory BIOs (of `bio_mod`,
    tlsctx's or the stdlib's), pumped from Python."""

    def __init__(self, cctx, sctx, bio_mod=None, hostname="localhost"):
        bio = (bio_mod or tlsctx).MemoryBIO
        self.c_in, self.c_out, self.s_in, self.s_out = bio(), bio(), bio(), bio()
        self.client = cctx.wrap_bio(self.c_in, self.c_out, server_hostname=hostname)
        self.server = sctx.wrap_bio(self.s_in, self.s_out, server_side=True)

    def pump(self):
        moved = 0
        for src, dst in ((self.c_out, self.s_in), (self.s_out, self.c_in)):
            data = src.read()
            if data:
                dst.write(data)
                moved += len(data)
        return moved

    def handshake(self):
        """Both sides' outcome: 'ok' or the exception."""
        done, idle = {}, 0
        for _ in range(100):
            if len(done) == 2 or idle >= 2:
                break
            for name, conn in (("client", self.client), ("server", self.server)):
                if name in done:
                    continue
                try:
                    conn.do_handshake()
                    done[name] = "ok"
                except ssl.SSLWantReadError:
                    pass
                except Exception as exc:  # noqa: BLE001 - the outcome
                    done[name] = exc
            idle = 0 if self.pump() else idle + 1
        for name in ("client", "server"):
            done.setdefault(name, RuntimeError("handshake did not settle"))
        return done


def run_threads(targets, join=JOIN):
    """Run the callables in threads; their exceptions are re-raised here."""
    errors = []

    def wrap(func):
        def run():
            try:
                func()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(f), daemon=True) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def only_ssl_errors(outcomes):
    """Each outcome is 'ok' or an ssl.SSLError (tlsctx's are subclasses)."""
    for outcome in outcomes:
        assert outcome == "ok" or isinstance(outcome, ssl.SSLError), repr(outcome)


def stdlib_skipped(why):
    print("stdlib control skipped: %s" % why)


# ---- item 3: the ALPN list replaced while servers select from it ------------------------------

def test_alpn_replaced_during_handshakes(certs):
    """Servers keep negotiating h2 while another thread replaces the list
    (with lists that all contain h2) thousands of times."""
    stdlib_skipped("the stdlib's selection reads the list set_alpn_protocols frees "
                   "(it negotiates nothing now and then)")
    sctx = server_ctx(tlsctx, certs)
    sctx.set_alpn_protocols(["h2"])
    cctx = client_ctx(tlsctx, certs)
    cctx.set_alpn_protocols(["h2"])
    stop = threading.Event()
    chosen = []

    def flip():
        lists = (["h2"], ["spdy/3", "h2"], ["h2", "http/1.1"], ["x" * 200, "h2"])
        i = 0
        while not stop.is_set():
            sctx.set_alpn_protocols(lists[i % len(lists)])
            i += 1

    def handshakes():
        for _ in range(250):
            pair = Pair(cctx, sctx)
            outcome = pair.handshake()
            assert outcome == {"client": "ok", "server": "ok"}, outcome
            chosen.append((pair.client.selected_alpn_protocol(),
                           pair.server.selected_alpn_protocol()))

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    try:
        run_threads([handshakes, handshakes])
    finally:
        stop.set()
        flipper.join(JOIN)
    assert chosen and set(chosen) == {("h2", "h2")}


def test_alpn_list_is_pinned_when_the_connection_is_made(certs):
    """A connection selects from the list its context had when it was made."""
    sctx = server_ctx(tlsctx, certs)
    sctx.set_alpn_protocols(["h2"])
    cctx = client_ctx(tlsctx, certs)
    cctx.set_alpn_protocols(["http/1.1", "h2"])
    pair = Pair(cctx, sctx)
    sctx.set_alpn_protocols(["http/1.1"])
    assert pair.handshake() == {"client": "ok", "server": "ok"}
    assert pair.server.selected_alpn_protocol() == "h2"
    later = Pair(cctx, sctx)
    assert later.handshake() == {"client": "ok", "server": "ok"}
    assert later.server.selected_alpn_protocol() == "http/1.1"


# ---- item 6: set_ciphers, load_cert_chain and friends while others handshake -------------------

RECONFIGURE = {
    "set_ciphers": lambda ctx, certs, i: ctx.set_ciphers(
        ("ECDHE+AESGCM", "ECDHE+CHACHA20:ECDHE+AESGCM", "DEFAULT")[i % 3]),
    "set_ciphersuites": lambda ctx, certs, i: ctx.set_ciphersuites(
        ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256")[i % 2]),
    "load_cert_chain": lambda ctx, certs, i: ctx.load_cert_chain(certs.server),
    "set_ecdh_curve": lambda ctx, certs, i: ctx.set_ecdh_curve(("prime256v1", "secp384r1")[i % 2]),
    "set_alpn_protocols": lambda ctx, certs, i: ctx.set_alpn_protocols(
        (["h2"], ["http/1.1", "h2"])[i % 2]),
    "sni_callback": lambda ctx, certs, i: setattr(
        ctx, "sni_callback", (None, lambda *a: None)[i % 2]),
}
CLIENT_SIDE = ("set_ciphers", "set_ciphersuites", "set_ecdh_curve", "set_alpn_protocols")


@pytest.mark.parametrize("what,side", [(what, side) for what in sorted(RECONFIGURE)
                                       for side in ("client", "server")
                                       if side == "server" or what in CLIENT_SIDE])
def test_reconfigure_during_handshakes(certs, what, side):
    """One thread reconfigures the context two others handshake on: every
    handshake succeeds (each setting offered works with the peer)."""
    stdlib_skipped("the stdlib frees the cipher list and certificate a handshake "
                   "running without the GIL reads: it crashes here")
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    shared = cctx if side == "client" else sctx
    stop = threading.Event()
    outcomes = []

    def reconfigure():
        i = 0
        while not stop.is_set():
            RECONFIGURE[what](shared, certs, i)
            i += 1

    def handshakes():
        for _ in range(40):
            outcomes.extend(Pair(cctx, sctx).handshake().values())

    flipper = threading.Thread(target=reconfigure, daemon=True)
    flipper.start()
    try:
        run_threads([handshakes, handshakes])
    finally:
        stop.set()
        flipper.join(JOIN)
    assert outcomes and set(outcomes) == {"ok"}, [o for o in outcomes if o != "ok"][:3]


def test_cipher_list_is_pinned_when_the_connection_is_made(certs):
    cctx, sctx = client_ctx(tlsctx, certs), server_ctx(tlsctx, certs)
    cctx.maximum_version = tlsctx.TLSVersion.TLSv1_2
    cctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")
    pair = Pair(cctx, sctx)
    cctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384")
    assert pair.handshake() == {"client": "ok", "server": "ok"}
    assert "AES128" in pair.client.cipher()[0]
    later = Pair(cctx, sctx)
    assert later.handshake() == {"client": "ok", "server": "ok"}
    assert "AES256" in later.client.cipher()[0]


def test_sni_switch_takes_the_new_contexts_ciphers(certs):
    """After an SNI callback moves a connection to another context, the
    server chooses from that context's ciphers, as the stdlib's does."""
    def run(mod):
        front, back = server_ctx(mod, certs), server_ctx(mod, certs)
        front.set_ciphers("ECDHE+AESGCM")
        back.set_ciphers("ECDHE+CHACHA20")

        def switch(obj, name, ctx):
            obj.context = back
        front.sni_callback = switch
        cctx = client_ctx(mod, certs)
        cctx.maximum_version = mod.TLSVersion.TLSv1_2
        cctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
        pair = Pair(cctx, front, bio_mod=mod)
        outcome = pair.handshake()
        return outcome["server"], pair.server.cipher()[0]
    assert run(tlsctx) == run(ssl)
    assert "CHACHA20" in run(tlsctx)[1]


# ---- the stress test ------------------------------------------------------------------------------

def test_stress_one_context_many_threads(certs):
    """Three threads handshake (memory BIOs and loopback sockets) on one
    server context and one client context while another thread keeps
    reconfiguring both: no crash, no hang, each handshake succeeds or fails
    with an ssl exception; the contexts' own settings stay what was set."""
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    cctx.set_alpn_protocols(["h2", "http/1.1"])
    bystander = client_ctx(tlsctx, certs)
    bystander_ciphers = [c["name"] for c in bystander.get_ciphers()]
    stop = threading.Event()
    outcomes = []

    def reconfigure():
        i = 0
        while not stop.is_set():
            for name, step in RECONFIGURE.items():
                step(sctx, certs, i)
                if name in CLIENT_SIDE:
                    step(cctx, certs, i)
            i += 1

    def memory_handshakes():
        for _ in range(100):
            outcomes.extend(Pair(cctx, sctx).handshake().values())

    def socket_handshakes():
        with TLSServer(sctx) as server:
            for _ in range(25):
                try:
                    with cctx.wrap_socket(__import__("socket").create_connection(server.address),
                                          server_hostname="localhost") as conn:
                        conn.sendall(b"ping")
                        assert conn.recv(4) == b"ping"
                    outcomes.append("ok")
                except ssl.SSLError as exc:
                    outcomes.append(exc)
        only_ssl_errors(server.errors and [e for e in server.errors if isinstance(e, Exception)
                                           and not isinstance(e, OSError)])

    flipper = threading.Thread(target=reconfigure, daemon=True)
    flipper.start()
    try:
        run_threads([memory_handshakes, memory_handshakes, socket_handshakes])
    finally:
        stop.set()
        flipper.join(JOIN)
    assert outcomes
    only_ssl_errors(outcomes)
    # isolation: the other context never changed
    assert [c["name"] for c in bystander.get_ciphers()] == bystander_ciphers


# ---- item 7 and re-entry --------------------------------------------------------------------------

def test_sni_callback_calling_do_handshake(certs, monkeypatch):
    """The stdlib aborts with a double free here; tlsctx refuses the nested
    call: the callback's RuntimeError reaches the unraisable hook and the
    handshake fails with an SSLError."""
    stdlib_skipped("the stdlib aborts the process (double free)")
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)

    def reenter(obj, name, ctx):
        obj.do_handshake()
    sctx.sni_callback = reenter
    outcome = Pair(cctx, sctx).handshake()
    assert isinstance(outcome["server"], ssl.SSLError)
    assert isinstance(outcome["client"], ssl.SSLError)
    assert [u.exc_type for u in seen] == [RuntimeError]
    assert "re-entrant" in str(seen[0].exc_value)


@pytest.mark.parametrize("method", ["read", "write", "do_handshake", "unwrap"])
def test_bio_method_reentering_the_connection(certs, method):
    """A Python-level BIO whose read() calls back into the connection using
    it: a RuntimeError from the outer call, then the connection still works."""
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    holder = {}

    class ReenteringBIO:
        def __init__(self):
            self.inner = ssl.MemoryBIO()
            self.armed = False

        def read(self, n=-1):
            if self.armed:
                self.armed = False
                conn = holder["conn"]
                args = {"read": (1,), "write": (b"x",)}.get(method, ())
                getattr(conn, method)(*args)
            return self.inner.read(n)

        def write(self, data):
            return self.inner.write(data)

        @property
        def pending(self):
            return self.inner.pending

        @property
        def eof(self):
            return self.inner.eof

    incoming = ReenteringBIO()
    outgoing = ssl.MemoryBIO()
    obj = holder["conn"] = cctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()   # writes the ClientHello; read finds nothing yet
    server_in, server_out = tlsctx.MemoryBIO(), tlsctx.MemoryBIO()
    server = sctx.wrap_bio(server_in, server_out, server_side=True)
    server_in.write(outgoing.read())
    with pytest.raises(ssl.SSLWantReadError):
        server.do_handshake()
    incoming.inner.write(server_out.read())
    incoming.armed = True
    with pytest.raises(RuntimeError, match="re-entrant"):
        obj.do_handshake()
    # the refused call changed nothing: the handshake completes
    for _ in range(10):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        server_in.write(outgoing.read())
        try:
            server.do_handshake()
        except ssl.SSLWantReadError:
            pass
        incoming.inner.write(server_out.read())
    assert obj.version() is not None


# ---- Python-level BIOs --------------------------------------------------------------------------

class GenerousBIO:
    """A BIO-like object whose read(n) may return more than n bytes."""

    def __init__(self):
        self.buf = bytearray()
        self.closed = False

    def read(self, n=-1):
        out = bytes(self.buf[:max(n, 0) + 7 if n >= 0 else len(self.buf)])
        del self.buf[:len(out)]
        return out

    def write(self, data):
        self.buf += data
        return len(data)

    @property
    def pending(self):
        return len(self.buf)

    @property
    def eof(self):
        return self.closed and not self.buf


def test_python_bio_read_returning_more_than_asked(certs):
    """Bytes past n are kept for the next reads: the handshake and 200 KB
    of application data arrive intact."""
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    c_in, c_out = GenerousBIO(), GenerousBIO()
    s_in, s_out = GenerousBIO(), GenerousBIO()
    client = cctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = sctx.wrap_bio(s_in, s_out, server_side=True)

    def pump():
        s_in.write(c_out.read(-1))
        c_in.write(s_out.read(-1))

    for _ in range(20):
        for conn in (client, server):
            try:
                conn.do_handshake()
            except ssl.SSLWantReadError:
                pass
        pump()
    assert client.version() and server.version()
    blob = os.urandom(200_000)
    sent = 0
    while sent < len(blob):
        sent += client.write(blob[sent:sent + 50_000])
    pump()
    got = bytearray()
    while len(got) < len(blob):
        try:
            got += server.read(65536)
        except ssl.SSLWantReadError:
            pump()
    assert bytes(got) == blob


# ---- item 4: callbacks run in the interpreter that made the call ---------------------------------

def test_callbacks_run_in_the_sub_interpreter(certs, tmp_path):
    """An SNI callback registered in a sub-interpreter runs there (with
    PyGILState_Ensure it ran in the main interpreter on 3.11)."""
    _testcapi = pytest.importorskip("_testcapi", reason="CPython's _testcapi is not built")
    if not hasattr(_testcapi, "run_in_subinterp"):
        pytest.skip("_testcapi.run_in_subinterp is missing")
    try:
        import _interpreters as interpreters
    except ImportError:
        interpreters = pytest.importorskip("_xxsubinterpreters",
                                           reason="no module reports the interpreter id")
    out = tmp_path / "ids.txt"
    code = textwrap.dedent("""
        import sys
        sys.path[:0] = %(path)r
        try:
            import _interpreters as interpreters
        except ImportError:
            import _xxsubinterpreters as interpreters
        import tlsctx
        def current():
            got = interpreters.get_current()
            return str(got[0] if isinstance(got, tuple) else got)
        seen = []
        s = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
        s.load_cert_chain(%(server)r)
        s.sni_callback = lambda obj, name, ctx: seen.append(current())
        c = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(%(cafile)r)
        bios = [tlsctx.MemoryBIO() for _ in range(4)]
        client = c.wrap_bio(bios[0], bios[1], server_hostname="localhost")
        server = s.wrap_bio(bios[2], bios[3], server_side=True)
        for _ in range(10):
            for conn in (client, server):
                try:
                    conn.do_handshake()
                except tlsctx.SSLWantReadError:
                    pass
            bios[2].write(bios[1].read())
            bios[0].write(bios[3].read())
        with open(%(out)r, "w") as f:
            f.write("%%s %%s %%s" %% (current(), ",".join(seen), client.version()))
    """) % {"path": sys.path, "server": certs.server, "cafile": certs.cafile, "out": str(out)}
    assert _testcapi.run_in_subinterp(code) == 0
    mine, seen, version = out.read_text().split()
    main = interpreters.get_current()
    main = str(main[0] if isinstance(main, tuple) else main)
    assert seen == mine != main
    assert version.startswith("TLS")


# ---- suspected items --------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["psk", "psk_identity"])
def test_psk_too_long_is_reported(what, monkeypatch):
    """A key (or identity) longer than OpenSSL's buffer fails the handshake
    as the stdlib's does, and tlsctx also reports why (ValueError through the
    unraisable hook) where the stdlib says nothing."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    identity, key = ("id", b"k" * 600) if what == "psk" else ("i" * 600, b"k" * 16)

    def run(mod):
        c = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        s = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
        c.check_hostname, c.verify_mode = False, mod.CERT_NONE
        for ctx in (c, s):
            ctx.maximum_version = mod.TLSVersion.TLSv1_2
            ctx.set_ciphers("PSK")
        c.set_psk_client_callback(lambda hint: (identity, key))
        s.set_psk_server_callback(lambda ident: b"k" * 16)
        outcome = Pair(c, s, bio_mod=mod, hostname=None).handshake()
        return {side: type(v).__name__ for side, v in outcome.items()}

    mine = run(tlsctx)
    assert mine["client"] != "ok" and mine["server"] != "ok"
    assert [(u.exc_type, u.object) for u in seen] == [(ValueError, None)]
    assert "must be at most" in str(seen[0].exc_value)
    assert seen[0].err_msg.startswith("Exception ignored in ssl PSK client callback")
    if hasattr(ssl.SSLContext, "set_psk_client_callback"):
        seen.clear()
        theirs = run(ssl)
        assert {k: v.replace("SSLError", "") for k, v in theirs.items()} == \
            {k: v.replace("SSLError", "") for k, v in mine.items()}
    else:
        stdlib_skipped("the stdlib has PSK callbacks from 3.13 on")


def key_layouts(certs):
    """Key files whose password callback raises on its first call and
    answers afterwards: an encrypted key alone, followed by a plain copy, or
    preceded by one (OpenSSL never asks then)."""
    from cryptography.hazmat.primitives import serialization
    with open(certs.server, "rb") as f:
        pem = f.read()
    block = re.search(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----\n",
                      pem, re.S)
    plain = block.group(0)
    key = serialization.load_pem_private_key(plain, None)
    enc = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"secret"))
    cert = pem[pem.index(b"-----BEGIN CERTIFICATE-----"):]
    return cert, {"encrypted": enc, "encrypted then plain": enc + plain,
                  "plain then encrypted": plain + enc}


@pytest.mark.parametrize("layout", ["encrypted", "encrypted then plain", "plain then encrypted"])
def test_password_callback_error_fails_the_load(certs, tmp_path, layout):
    """A password callback that raised fails load_cert_chain with its own
    exception (never None with an exception set, even where OpenSSL would
    go on), as the stdlib for files; from memory too; the context keeps the
    chain it had."""
    cert, layouts = key_layouts(certs)
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert)
    keyfile.write_bytes(layouts[layout])

    def outcome(mod, **source):
        calls = []

        def password():
            calls.append(1)
            if len(calls) == 1:
                raise KeyError("first ask fails")
            return b"secret"
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.server)
        before = ctx._loaded_chain() if mod is tlsctx else None
        try:
            result = ctx.load_cert_chain(password=password, **source)
        except KeyError as exc:
            result = exc
        if mod is tlsctx and not isinstance(result, type(None)):
            assert ctx._loaded_chain() == before
        return repr(result), len(calls)

    files = {"certfile": str(certfile), "keyfile": str(keyfile)}
    assert outcome(tlsctx, **files) == outcome(ssl, **files)
    assert outcome(tlsctx, certdata=cert, keydata=layouts[layout]) == outcome(ssl, **files)


# ---- sockets: many threads, one context ------------------------------------------------------------

def test_threads_share_contexts_over_sockets(certs):
    """Eight client threads on one tlsctx client context against a tlsctx
    server context; each moves 256 KB both ways, bytes intact."""
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    import socket
    payloads = []

    def client():
        blob = os.urandom(256 * 1024)
        with socket.create_connection(server.address) as raw:
            raw.settimeout(JOIN)
            with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(blob)
                got = bytearray()
                while len(got) < len(blob):
                    chunk = conn.recv(65536)
                    assert chunk
                    got += chunk
        payloads.append(bytes(got) == blob)

    with TLSServer(sctx) as server:
        run_threads([client] * 8)
    assert payloads == [True] * 8
    assert not server.errors


# ---- asyncio ---------------------------------------------------------------------------------------

async def echo_handler(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def echo_run(sctx, cctx, clients, size):
    server = await asyncio.start_server(echo_handler, HOST, 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]

    async def one(i):
        blob = os.urandom(size)
        reader, writer = await asyncio.open_connection(HOST, port, ssl=cctx,
                                                       server_hostname="localhost")
        async def send():
            for off in range(0, size, 65536):
                writer.write(blob[off:off + 65536])
                await writer.drain()
        sender = asyncio.ensure_future(send())
        got = await reader.readexactly(size)
        await sender
        writer.close()
        try:
            await writer.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass
        return got == blob

    try:
        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(clients))), JOIN)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("pairing", ["tlsctx-tlsctx", "tlsctx-stdlib", "stdlib-tlsctx",
                                     "stdlib-stdlib"])
def test_asyncio_echo_many_clients(certs, pairing, stdlib_bio_path):
    """A TLS echo server and 16 concurrent clients through asyncio's own SSL
    transport (which hands the contexts the stdlib's MemoryBIOs), 1 MB each
    way per client, bytes intact; the stdlib pairing is the control."""
    cname, sname = pairing.split("-")
    sctx = server_ctx(MODULES[sname], certs)
    cctx = client_ctx(MODULES[cname], certs)
    results = asyncio.run(echo_run(sctx, cctx, clients=16, size=1024 * 1024))
    assert results == [True] * 16


# ---- the import check --------------------------------------------------------------------------------

@pytest.mark.skipif(bool(tlsctx._tlsctx._OPENSSL_BUNDLED),
                    reason="this build carries its OpenSSL (a binary wheel): no probe, "
                           "nothing to mismatch")
def test_import_names_both_openssl_versions_on_mismatch():
    """tlsctx/__init__.py checks the OpenSSL it runs with against the one it
    was built with before the extension loads (simulated here: the check is
    fed an older runtime version)."""
    from tlsctx import _opensslcheck
    built = _opensslcheck.built_with()
    assert built[:2] <= tuple(tlsctx.OPENSSL_VERSION_INFO[:2])
    msg = _opensslcheck.mismatch((3, 5, 0), (3, 0, 19), "OpenSSL 3.0.19 (runtime)",
                                 "OpenSSL 3.5.0 (built)")
    assert msg is not None
    assert "OpenSSL 3.0.19 (runtime)" in msg and "OpenSSL 3.5.0 (built)" in msg
    assert _opensslcheck.mismatch(built, built, "same") is None
    assert _opensslcheck.mismatch((3, 0, 2), (3, 6, 0), "newer") is None
    out = subprocess.run([sys.executable, "-c", "import tlsctx; print(tlsctx.OPENSSL_VERSION)"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_python_bio_reads_span_records_and_keep_errors_in_order(certs, stdlib_bio_path):
    """Over the stdlib's MemoryBIO (as asyncio uses them) a read returns
    what is waiting (through its Python methods possibly several records at
    once, directly one record, as the stdlib); a damaged record
    after good ones: the good bytes first, then the error, as the stdlib."""
    def run(mod):
        sctx, cctx = server_ctx(mod, certs), client_ctx(mod, certs)
        pair = Pair(cctx, sctx, bio_mod=ssl)
        assert pair.handshake() == {"client": "ok", "server": "ok"}
        pair.pump()
        for piece in (b"a" * 20000, b"b" * 20000):
            pair.client.write(piece)
        wire = bytearray(pair.c_out.read())
        wire[-40] ^= 0xFF   # inside the last record
        pair.s_in.write(bytes(wire))
        got, outcome = bytearray(), None
        for _ in range(10):
            try:
                chunk = pair.server.read(100000)
            except ssl.SSLError as exc:
                outcome = (type(exc).__name__, exc.reason)
                break
            got += chunk
        return bytes(got), outcome

    mine, theirs = run(tlsctx), run(ssl)
    # the bytes and the class; the reason's name depends on the error table
    # of the OpenSSL each was built with (RECORD_LAYER_FAILURE is 3.2+)
    print("reasons: tlsctx %r, stdlib %r" % (mine[1][1], theirs[1][1]))
    assert (mine[0], mine[1][0]) == (theirs[0], theirs[1][0])
    assert mine[0].startswith(b"a" * 20000)


def test_python_bio_bulk_is_intact(certs, stdlib_bio_path):
    """4 MB in both directions over the stdlib's MemoryBIO, bytes intact."""
    sctx, cctx = server_ctx(tlsctx, certs), client_ctx(tlsctx, certs)
    pair = Pair(cctx, sctx, bio_mod=ssl)
    assert pair.handshake() == {"client": "ok", "server": "ok"}
    for writer, reader, out_bio, in_bio in ((pair.client, pair.server, pair.c_out, pair.s_in),
                                            (pair.server, pair.client, pair.s_out, pair.c_in)):
        blob = os.urandom(4 * 1024 * 1024)
        got = bytearray()
        for off in range(0, len(blob), 300_000):
            writer.write(blob[off:off + 300_000])
            in_bio.write(out_bio.read())
            while True:
                try:
                    got += reader.read(1 << 20)
                except ssl.SSLWantReadError:
                    break
        assert bytes(got) == blob
