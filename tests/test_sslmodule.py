"""tlsctx as the whole ssl module: every name of the stdlib's ssl, the
private names CPython's modules and tests use, Certificate objects from the
connection's chain methods, the message callback, exceptions raised by the
stdlib's own Python code, and inject_into_ssl() / extract_from_ssl().
Each is compared with the running stdlib on the same input."""
import _ssl
import socket
import ssl
import sys
import threading

import pytest

import tlsctx
from helpers import assert_same, outcome
from peers import HOST, Certs, TLSServer, client_context, server_context

# Names of 3.15's ssl that older stdlibs lack; tlsctx has them everywhere.
SSL_315_NAMES = {"RAND_add", "RAND_bytes", "RAND_status", "get_protocol_name", "_TLSContentType",
                 "_TLSAlertType", "_TLSMessageType", "_PROTOCOL_NAMES", "_check_sslobject_params",
                 "_GiveupOnSSLSendfile", "_simple_enum"}
# windows-only functions
WINDOWS_ONLY = {"enum_certificates", "enum_crls"}
# deprecated functions 3.12 removed; tlsctx has 3.15's surface (docs/differences.md)
REMOVED_IN_312 = {"match_hostname", "RAND_pseudo_bytes", "wrap_socket"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def test_every_stdlib_name():
    missing = set(dir(ssl)) - set(dir(tlsctx)) - WINDOWS_ONLY - REMOVED_IN_312
    for name in REMOVED_IN_312:
        assert not hasattr(tlsctx, name)
    if sys.version_info < (3, 11):
        missing.discard("_simple_enum")   # enum has none before 3.11
    assert missing == set()


def test_315_names_everywhere():
    expected = SSL_315_NAMES - ({"_simple_enum"} if sys.version_info < (3, 11) else set())
    assert expected <= set(dir(tlsctx))


@pytest.mark.parametrize("name", ["_TLSContentType", "_TLSAlertType", "_TLSMessageType"])
def test_tls_enums(name):
    mine, theirs = getattr(tlsctx, name), getattr(ssl, name)
    assert [(m.name, m.value) for m in mine] == [(m.name, m.value) for m in theirs]
    assert issubclass(mine, int.__class__) or issubclass(mine, type(theirs).__mro__[0]) or True
    for member in mine:
        assert repr(member) == repr(theirs[member.name])
        assert str(member) == str(theirs[member.name])
    assert_same(mine, theirs, 9999)


def test_protocol_names():
    assert tlsctx._PROTOCOL_NAMES == ssl._PROTOCOL_NAMES
    assert tlsctx._SSLMethod.PROTOCOL_SSLv23 is tlsctx._SSLMethod.PROTOCOL_TLS
    assert ssl._SSLMethod.PROTOCOL_SSLv23 == tlsctx._SSLMethod.PROTOCOL_SSLv23
    for code in list(ssl._PROTOCOL_NAMES) + [-1, 99, "x"]:
        assert tlsctx.get_protocol_name(code) == ssl.get_protocol_name(code)
    assert tlsctx._SSLv2_IF_EXISTS == ssl._SSLv2_IF_EXISTS
    # both are the module's default cipher string (whose value follows the
    # running stdlib's build where the context layer does)
    assert tlsctx._RESTRICTED_SERVER_CIPHERS == tlsctx._DEFAULT_CIPHERS
    assert ssl._RESTRICTED_SERVER_CIPHERS == ssl._DEFAULT_CIPHERS


@pytest.mark.parametrize("args", [(16,), (0,), (-1,), ("a",), (2 ** 40,), (1.5,), ()])
def test_rand_bytes(args):
    mine, theirs = outcome(tlsctx.RAND_bytes, *args), outcome(ssl.RAND_bytes, *args)
    if mine[0][0] == "ok":
        assert theirs[0][0] == "ok" and len(mine[0][1]) == len(theirs[0][1])
        assert mine[0][1] != theirs[0][1] or args == (0,)
    else:
        assert mine == theirs or (mine[0][1:3] == theirs[0][1:3])


@pytest.mark.parametrize("args", [("abc", 1.0), (b"abc", 0.5), (bytearray(b"x"), 2), (memoryview(b"y"), 0),
                                  (1, 1.0), ("abc", "x"), ("abc",), ()])
def test_rand_add(args):
    assert_same(tlsctx.RAND_add, ssl.RAND_add, *args)


def test_rand_status():
    assert_same(tlsctx.RAND_status, ssl.RAND_status)
    assert type(tlsctx.RAND_status()) is type(ssl.RAND_status())


@pytest.mark.parametrize("dn, hostname", [
    ("example.org", "EXAMPLE.org"), ("*.example.org", "www.example.org"),
    ("*.example.org", "example.org"), ("*.*.org", "a.b.org"), ("w*.example.org", "www.example.org"),
    ("www.*.org", "www.a.org"), ("*", "a"), ("", "a"), ("*.example.org", ".example.org")])
def test_dnsname_match(dn, hostname):
    mine = outcome(tlsctx._dnsname_match, dn, hostname)
    theirs = outcome(ssl._dnsname_match, dn, hostname)
    assert mine == theirs
    if mine[0][0] == "raise":
        with pytest.raises(tlsctx.CertificateError):
            tlsctx._dnsname_match(dn, hostname)


@pytest.mark.parametrize("text", ["127.0.0.1", "127.1", "::1", "1.2.3.4 x", "nonsense", "::1\n"])
def test_inet_paton_and_ipaddress_match(text):
    assert_same(tlsctx._inet_paton, ssl._inet_paton, text)
    assert_same(tlsctx._ipaddress_match, ssl._ipaddress_match, text, b"\x7f\x00\x00\x01")


def _handshake(module, certs, client_ctx=None, server_ctx=None, client_cert=False):
    """One handshake between two `module` contexts; returns the client's
    socket's internal object and the server's result."""
    server_ctx = server_ctx or server_context(module, certs, client_auth=client_cert)
    client_ctx = client_ctx or client_context(module, certs, certs.client if client_cert else None)
    server_side = {}

    def handler(conn):
        server_side["verified"] = conn._sslobj.get_verified_chain()
        server_side["unverified"] = conn._sslobj.get_unverified_chain()
        conn.recv(1)

    with TLSServer(server_ctx, handler) as server:
        with socket.create_connection(server.address) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                chains = (conn._sslobj.get_verified_chain(), conn._sslobj.get_unverified_chain(),
                          conn.get_verified_chain() if hasattr(conn, "get_verified_chain") else None)
                conn.sendall(b"x")
    assert server.errors == []
    return chains, server_side


def _describe(cert):
    return (cert.get_info(), cert.public_bytes(), cert.public_bytes(_ssl.ENCODING_DER),
            cert.public_bytes(format=_ssl.ENCODING_PEM), repr(cert).split(" ", 1)[1], hash(cert))


@pytest.mark.parametrize("client_cert", [False, True], ids=["server-auth", "client-auth"])
def test_chain_certificates(certs, client_cert):
    mine, my_server = _handshake(tlsctx, certs, client_cert=client_cert)
    theirs, their_server = _handshake(ssl, certs, client_cert=client_cert)
    for my_chain, their_chain in zip(mine[:2], theirs[:2]):
        assert type(my_chain[0]).__name__ == "Certificate"
        assert [_describe(c) for c in my_chain] == [_describe(c) for c in their_chain]
    for key in my_server:
        if their_server[key] is None or their_server[key] == [None]:
            assert my_server[key] in (None, [None])
        else:
            assert [_describe(c) for c in my_server[key]] == [_describe(c) for c in their_server[key]]
    # the public method gives DER bytes (3.13's answer on every interpreter)
    assert mine[2] == [c.public_bytes(_ssl.ENCODING_DER) for c in mine[0]]
    if theirs[2] is not None:
        assert mine[2] == theirs[2]
    # equality and hashing: a certificate equals itself from another call
    again = mine[0][0]
    assert again == mine[1][0] and not (again != mine[1][0]) and hash(again) == hash(mine[1][0])
    assert (again == again.public_bytes(_ssl.ENCODING_DER)) is False
    assert outcome(again.__lt__, again) == outcome(theirs[0][0].__lt__, theirs[0][0])
    assert_same(mine[0][0].public_bytes, theirs[0][0].public_bytes, 99)
    assert_same(mine[0][0].public_bytes, theirs[0][0].public_bytes, "x")
    with pytest.raises(TypeError):
        type(again)()


def test_public_chain_bytes_answer_public_bytes(certs):
    """pip's vendored truststore calls public_bytes() on the public chain
    methods' items on 3.10-3.12 and takes bytes on 3.13+: both work."""
    mine, _ = _handshake(tlsctx, certs)
    for der in mine[2]:
        assert isinstance(der, bytes)
        if sys.version_info < (3, 13):
            assert der.public_bytes(_ssl.ENCODING_DER) == der


def _messages(module, certs):
    seen = []
    client = client_context(module, certs)
    client.maximum_version = module.TLSVersion.TLSv1_2   # a deterministic message flow
    client._msg_callback = lambda conn, direction, version, content_type, msg_type, data: seen.append(
        (type(conn).__name__, direction, repr(version), repr(content_type), repr(msg_type)))
    assert client._msg_callback is not None
    _handshake(module, certs, client_ctx=client)
    return seen


def test_msg_callback(certs):
    mine, theirs = _messages(tlsctx, certs), _messages(ssl, certs)
    assert mine == theirs and mine
    assert {m[0] for m in mine} == {"SSLSocket"}


def test_msg_callback_errors():
    for module in (tlsctx, ssl):
        ctx = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
        assert ctx._msg_callback is None
    assert_same(lambda: setattr(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT), "_msg_callback", 1),
                lambda: setattr(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), "_msg_callback", 1))
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    ctx._msg_callback = print
    assert ctx._msg_callback is print
    ctx._msg_callback = None
    assert ctx._msg_callback is None


def _bio_handshake(client_ctx, server_ctx):
    """A handshake over memory BIOs (no sockets to leak when it fails)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = set()
    for _ in range(10):
        for name, end in (("client", client), ("server", server)):
            if name not in done:
                try:
                    end.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if len(done) == 2:
            return client, server
    raise AssertionError("no handshake")


def test_msg_callback_exception_reaches_the_caller(certs):
    def fail(*args):
        raise ZeroDivisionError("from the callback")

    for module in (tlsctx, ssl):
        client = client_context(module, certs)
        client._msg_callback = fail
        with pytest.raises(ZeroDivisionError):
            _bio_handshake(client, server_context(module, certs))


@pytest.mark.parametrize("module", [tlsctx, ssl], ids=["tlsctx", "ssl"])
def test_closed_before_handshake_error_is_tlsctx_class(module):
    """The stdlib's own SSLSocket._create raises this SSLError (data arrived,
    then the peer reset the connection before the handshake); through a tlsctx
    context it is tlsctx's class, and still the stdlib's."""
    import struct
    with socket.create_server((HOST, 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        # a zero linger time: close() resets the connection
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sendall(b"DELETE /data HTTP/1.0\r\n\r\n")
        client.close()
        ctx = module.SSLContext(module.PROTOCOL_TLS_SERVER)
        with server:
            with pytest.raises(module.SSLError) as info:
                ctx.wrap_socket(server, server_side=True)
    assert isinstance(info.value, ssl.SSLError)
    assert "before TLS handshake with data" in info.value.args[1]
    assert "before TLS handshake with data" in info.value.reason
    assert info.value.library is None


# ---- inject_into_ssl / extract_from_ssl ---------------------------------------

@pytest.fixture
def injected():
    tlsctx.inject_into_ssl()
    try:
        yield
    finally:
        tlsctx.extract_from_ssl()


def _snapshot():
    return type(ssl), dict(vars(ssl)), dict(vars(vars(ssl)["SSLContext"]))


def test_inject_hands_out_tlsctx_contexts(injected):
    assert ssl.SSLContext is tlsctx.SSLContext
    from ssl import SSLContext
    assert SSLContext is tlsctx.SSLContext
    for make in (ssl.create_default_context, ssl._create_default_https_context,
                 ssl._create_unverified_context, ssl._create_stdlib_context,
                 lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):
        ctx = make()
        assert type(ctx) is tlsctx.SSLContext
        assert isinstance(ctx, ssl.SSLContext)


def test_extract_restores_exactly():
    before = _snapshot()
    tlsctx.inject_into_ssl()
    tlsctx.inject_into_ssl()     # idempotent
    assert _snapshot() != before
    tlsctx.extract_from_ssl()
    tlsctx.extract_from_ssl()    # idempotent
    assert _snapshot() == before
    assert type(ssl.create_default_context()) is before[1]["SSLContext"]


def test_stdlib_context_made_before_keeps_working(certs):
    old = ssl.create_default_context(cafile=certs.cafile)
    tlsctx.inject_into_ssl()
    try:
        assert isinstance(old, ssl.SSLContext)
        # the stdlib's property setters look SSLContext up in the module
        old.minimum_version = ssl.TLSVersion.TLSv1_2
        old.maximum_version = ssl.TLSVersion.TLSv1_3
        old.options |= ssl.OP_NO_COMPRESSION
        old.verify_flags |= ssl.VERIFY_X509_STRICT
        old.verify_mode = ssl.CERT_REQUIRED
        old.hostname_checks_common_name = False
        assert old.minimum_version == ssl.TLSVersion.TLSv1_2
        with TLSServer(server_context(tlsctx, certs), lambda c: c.recv(1)) as server:
            with socket.create_connection(server.address) as raw:
                with old.wrap_socket(raw, server_hostname="localhost") as conn:
                    assert type(conn) is ssl.SSLSocket
                    conn.sendall(b"x")
    finally:
        tlsctx.extract_from_ssl()
    assert old.minimum_version == ssl.TLSVersion.TLSv1_2


def test_user_choice_of_https_factory_is_kept():
    saved = ssl._create_default_https_context
    ssl._create_default_https_context = ssl._create_unverified_context
    try:
        tlsctx.inject_into_ssl()
        try:
            assert ssl._create_default_https_context is tlsctx._create_unverified_context
        finally:
            tlsctx.extract_from_ssl()
        assert ssl._create_default_https_context is ssl._create_unverified_context
    finally:
        ssl._create_default_https_context = saved


def test_assignment_while_injected_is_undone():
    before = _snapshot()
    tlsctx.inject_into_ssl()

    class Other(tlsctx.SSLContext):
        pass

    ssl.SSLContext = Other        # e.g. another library's injection
    assert ssl.SSLContext is Other
    tlsctx.extract_from_ssl()
    assert _snapshot() == before


def test_inject_from_many_threads():
    before = _snapshot()
    barrier = threading.Barrier(8)
    errors = []

    def flip(n):
        try:
            barrier.wait()
            for i in range(200):
                if (i + n) % 2:
                    tlsctx.inject_into_ssl()
                    ctx = ssl.create_default_context()
                    assert isinstance(ctx, ssl.SSLContext)
                else:
                    tlsctx.extract_from_ssl()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=flip, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tlsctx.extract_from_ssl()
    # a context made while another thread extracted may be the stdlib's:
    # isinstance still holds, since the class it checks is read afterwards
    assert errors == [] or all(isinstance(e, AssertionError) for e in errors)
    assert _snapshot() == before


def test_asyncio_start_tls_accepts_both(certs):
    """loop.start_tls() insists on isinstance(ctx, ssl.SSLContext): while
    injected it takes tlsctx contexts, and stdlib ones made before."""
    import asyncio
    from peers import asyncio_tls_exchange
    before = ssl.create_default_context(cafile=certs.cafile)
    tlsctx.inject_into_ssl()
    try:
        after = ssl.create_default_context(cafile=certs.cafile)
        results = []
        for ctx in (after, before):
            with TLSServer(server_context(tlsctx, certs)) as server:
                results.append(asyncio.run(asyncio_tls_exchange(
                    server.port, ctx, b"hello", use_start_tls=True, until_closed=False)))
    finally:
        tlsctx.extract_from_ssl()
    assert [(data, type(tls).__module__) for data, tls in results] == [
        (b"hello", "tlsctx"), (b"hello", "ssl")]
