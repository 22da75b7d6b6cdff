"""Handshakes proving CPython 3.15's context settings take effect: two
tlsctx endpoints over loopback negotiate the group, TLS 1.3 cipher suite or
signature algorithm chosen with set_groups / set_ciphersuites /
set_client_sigalgs / set_server_sigalgs, as reported by the connections'
group(), cipher(), client_sigalg() and server_sigalg(); or they fail when
the two sides share none.

PENDING until the connection layer (SSLContext.wrap_socket/wrap_bio and
SSLSocket/SSLObject with group(), client_sigalg(), server_sigalg()) and
load_cert_chain / get_ciphers are merged: every test then fails with a
message saying so, rather than skipping.

The expected names are OpenSSL's TLS names (what 3.15 returns on OpenSSL
3.5); on OpenSSL 3.0 tlsctx derives the same names from 3.0's calls
(docs/differences-3.15.md).
"""
import socket
import sys
import ssl
import threading

import pytest
import trustme

import tlsctx

LINKED = tlsctx.OPENSSL_VERSION_INFO[:2]
TIMEOUT = 10.0


# ---- peers -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """An RSA CA issuing an RSA and an ECDSA server certificate for
    localhost and an RSA client certificate, as files."""
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    base = tmp_path_factory.mktemp("modern-pki")
    paths = {"cadata": ca.cert_pem.bytes().decode("ascii")}
    for name, identity, key_type in (("rsa", "localhost", trustme.KeyType.RSA),
                                     ("ecdsa", "localhost", trustme.KeyType.ECDSA),
                                     ("client", "client@example.org", trustme.KeyType.RSA)):
        leaf = ca.issue_cert(identity, key_type=key_type)
        cert, key = base / (name + ".crt"), base / (name + ".key")
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        for pem in leaf.cert_chain_pems[1:]:
            pem.write_to_path(str(cert), append=True)
        leaf.private_key_pem.write_to_path(str(key))
        paths[name] = (str(cert), str(key))
    return paths


@pytest.fixture(autouse=True)
def connection_layer(pki):
    """Fail clearly (not skip) while the layers these tests need are missing."""
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(*pki["rsa"])
        missing = [name for name in ("group", "client_sigalg", "server_sigalg")
                   if ctx.sslsocket_class is None or not hasattr(ctx.sslsocket_class, name)]
        if missing:
            raise NotImplementedError("SSLSocket lacks " + ", ".join(missing))
    except NotImplementedError as exc:
        pytest.fail("PENDING: needs the connection layer and load_cert_chain: %s" % exc,
                    pytrace=False)


def server_context(pki, cert="rsa"):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki[cert])
    return ctx


def client_context(pki):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pki["cadata"])
    return ctx


def require_client_certificate(server_ctx, client_ctx, pki):
    server_ctx.verify_mode = tlsctx.CERT_REQUIRED
    server_ctx.load_verify_locations(cadata=pki["cadata"])
    client_ctx.load_cert_chain(*pki["client"])


def describe(conn):
    """What the connection negotiated; before 3.15 the stdlib's connections
    have no group() / client_sigalg() / server_sigalg()."""
    seen = {"cipher": conn.cipher()[0], "version": conn.version()}
    if hasattr(conn, "group"):
        seen.update(group=conn.group(), client_sigalg=conn.client_sigalg(),
                    server_sigalg=conn.server_sigalg())
    return seen


def handshake(client_ctx, server_ctx):
    """Connect a client and a server over loopback. Returns (client view,
    server view); if either side fails, raises the first error seen (the
    client's, else the server's)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    seen = {}

    def serve():
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["server"] = describe(tls)
                tls.sendall(b"ok")  # the client reads this: both ends are done
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            seen["server_error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                if tls.recv(2) != b"ok":
                    raise ssl.SSLError("the server closed before the handshake completed")
                seen["client"] = describe(tls)
    except Exception as exc:  # noqa: BLE001
        seen.setdefault("client_error", exc)
    finally:
        thread.join(TIMEOUT)
        listener.close()
    for key in ("client_error", "server_error"):
        if key in seen:
            raise seen[key]
    return seen["client"], seen["server"]


def both(views, field):
    client, server = views
    assert client[field] == server[field], (client, server)
    return client[field]


def no_shared(client_ctx, server_ctx):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(client_ctx, server_ctx)


# ---- groups ------------------------------------------------------------------

@pytest.mark.parametrize("group", ["secp384r1", "x25519", "secp521r1", "ffdhe2048"])
def test_set_groups_on_both_sides_picks_the_group(pki, group):
    client, server = client_context(pki), server_context(pki)
    client.set_groups(group)
    server.set_groups(group)
    assert both(handshake(client, server), "group") == group


def test_server_group_preference_within_the_client_list(pki):
    client, server = client_context(pki), server_context(pki)
    client.set_groups("x25519:secp384r1")
    server.set_groups("secp384r1")
    assert both(handshake(client, server), "group") == "secp384r1"


def test_set_groups_applies_to_tls12(pki):
    client, server = client_context(pki), server_context(pki)
    client.maximum_version = tlsctx.TLSVersion.TLSv1_2
    client.set_groups("secp384r1")
    views = handshake(client, server)
    assert both(views, "version") == "TLSv1.2"
    assert both(views, "group") == "secp384r1"


def test_no_shared_group_fails(pki):
    client, server = client_context(pki), server_context(pki)
    client.set_groups("secp384r1")
    server.set_groups("x25519")
    no_shared(client, server)


@pytest.mark.skipif(LINKED < (3, 5), reason="ML-KEM groups need OpenSSL >= 3.5; tlsctx links %s"
                    % tlsctx.OPENSSL_VERSION)
def test_post_quantum_group(pki):
    client, server = client_context(pki), server_context(pki)
    assert "X25519MLKEM768" in client.get_groups()
    client.set_groups("X25519MLKEM768")
    server.set_groups("X25519MLKEM768:x25519")
    assert both(handshake(client, server), "group") == "X25519MLKEM768"


# ---- TLS 1.3 cipher suites ---------------------------------------------------

@pytest.mark.parametrize("suite", ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                   "TLS_AES_128_GCM_SHA256"])
def test_set_ciphersuites_picks_the_suite(pki, suite):
    client, server = client_context(pki), server_context(pki)
    client.set_ciphersuites(suite)
    views = handshake(client, server)
    assert both(views, "version") == "TLSv1.3"
    assert both(views, "cipher") == suite


def test_no_shared_suite_fails(pki):
    client, server = client_context(pki), server_context(pki)
    client.set_ciphersuites("TLS_AES_128_GCM_SHA256")
    server.set_ciphersuites("TLS_CHACHA20_POLY1305_SHA256")
    no_shared(client, server)


def test_get_ciphers_reflects_set_ciphersuites(pki):
    ctx = client_context(pki)
    wanted = ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
    ctx.set_ciphersuites(":".join(wanted))
    tls13 = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"]
    assert tls13 == wanted


# ---- signature algorithms ----------------------------------------------------

@pytest.mark.parametrize("sigalg", ["rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
                                    "rsa_pss_rsae_sha512"])
def test_client_set_server_sigalgs_picks_the_server_signature(pki, sigalg):
    client, server = client_context(pki), server_context(pki)
    client.set_server_sigalgs(sigalg)
    views = handshake(client, server)
    assert both(views, "server_sigalg") == sigalg
    # no client authentication: no client signature
    assert both(views, "client_sigalg") is None


def test_server_set_server_sigalgs_limits_its_own_signature(pki):
    client, server = client_context(pki), server_context(pki)
    server.set_server_sigalgs("rsa_pss_rsae_sha512")
    assert both(handshake(client, server), "server_sigalg") == "rsa_pss_rsae_sha512"


def test_server_sigalg_of_an_ecdsa_certificate(pki):
    client, server = client_context(pki), server_context(pki, "ecdsa")
    assert both(handshake(client, server), "server_sigalg") == "ecdsa_secp256r1_sha256"


def test_server_sigalg_tls12_pkcs1(pki):
    client, server = client_context(pki), server_context(pki)
    client.maximum_version = tlsctx.TLSVersion.TLSv1_2
    client.set_server_sigalgs("RSA+SHA256")
    views = handshake(client, server)
    assert both(views, "version") == "TLSv1.2"
    assert both(views, "server_sigalg") == "rsa_pkcs1_sha256"


def test_no_shared_server_sigalg_fails(pki):
    client, server = client_context(pki), server_context(pki)
    client.set_server_sigalgs("ecdsa_secp256r1_sha256")  # the server only has RSA
    no_shared(client, server)


@pytest.mark.parametrize("version, sigalgs, expected", [
    ("TLSv1_3", "rsa_pss_rsae_sha512", "rsa_pss_rsae_sha512"),
    # the client picks by its own preference among what the server allows
    ("TLSv1_3", "rsa_pss_rsae_sha512:rsa_pss_rsae_sha384", "rsa_pss_rsae_sha384"),
    ("TLSv1_2", "RSA+SHA384", "rsa_pkcs1_sha384"),
])
def test_set_client_sigalgs_picks_the_client_signature(pki, version, sigalgs, expected):
    client, server = client_context(pki), server_context(pki)
    require_client_certificate(server, client, pki)
    client.maximum_version = getattr(tlsctx.TLSVersion, version)
    server.set_client_sigalgs(sigalgs)
    views = handshake(client, server)
    assert both(views, "client_sigalg") == expected
    assert both(views, "server_sigalg") is not None


def test_no_shared_client_sigalg_fails(pki):
    client, server = client_context(pki), server_context(pki)
    require_client_certificate(server, client, pki)
    server.set_client_sigalgs("ecdsa_secp256r1_sha256")  # the client only has RSA
    no_shared(client, server)


@pytest.mark.skipif(LINKED < (3, 4), reason="get_sigalgs needs OpenSSL >= 3.4; tlsctx links %s"
                    % tlsctx.OPENSSL_VERSION)
def test_negotiated_sigalgs_are_listed_by_get_sigalgs(pki):
    client, server = client_context(pki), server_context(pki)
    require_client_certificate(server, client, pki)
    views = handshake(client, server)
    names = tlsctx.get_sigalgs()
    assert both(views, "server_sigalg") in names
    assert both(views, "client_sigalg") in names


# ---- before the handshake, SSLObject ------------------------------------------

def test_nothing_negotiated_before_the_handshake(pki):
    client = client_context(pki)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw:
            with client.wrap_socket(raw, server_hostname="localhost",
                                    do_handshake_on_connect=False) as tls:
                assert (tls.group(), tls.client_sigalg(), tls.server_sigalg()) == (None, None, None)


def pump(client_obj, server_obj, c_in, c_out, s_in, s_out):
    """Drive two SSLObjects' handshakes through their memory BIOs."""
    done = {"client": False, "server": False}
    for _ in range(50):
        for name, obj in (("client", client_obj), ("server", server_obj)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not complete")


def test_sslobject_reports_the_same(pki):
    client, server = client_context(pki), server_context(pki)
    client.set_groups("secp384r1")
    client.set_server_sigalgs("rsa_pss_rsae_sha384")
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_obj = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    assert client_obj.group() is None
    pump(client_obj, server_obj, c_in, c_out, s_in, s_out)
    for obj in (client_obj, server_obj):
        assert obj.group() == "secp384r1"
        assert obj.server_sigalg() == "rsa_pss_rsae_sha384"
        assert obj.client_sigalg() is None


# ---- TLS 1.3 external PSK (HAS_PSK_TLS13) -----------------------------------

def psk_pair(lib, pki_paths, key):
    client = lib.SSLContext(lib.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = lib.CERT_NONE
    client.minimum_version = lib.TLSVersion.TLSv1_3
    client.set_psk_client_callback(lambda hint: ("client-identity", key))
    server = lib.SSLContext(lib.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*pki_paths["rsa"])
    server.minimum_version = lib.TLSVersion.TLSv1_3
    server.set_psk_server_callback(lambda identity: key, "hint")
    # a PSK from these callbacks is bound to SHA-256: offer only a SHA-256 suite,
    # or the server rejects the PSK and falls back to its certificate
    if hasattr(server, "set_ciphersuites"):
        server.set_ciphersuites("TLS_AES_128_GCM_SHA256")
    return client, server


def test_tls13_external_psk(pki):
    assert tlsctx.HAS_PSK_TLS13
    client, server = psk_pair(tlsctx, pki, bytes(range(32)))
    views = handshake(client, server)
    assert both(views, "version") == "TLSv1.3"
    # a PSK handshake has no certificate signature
    assert both(views, "server_sigalg") is None
    assert both(views, "client_sigalg") is None


# ---- against the stdlib ----------------------------------------------------------

STDLIB_HAS_NEGOTIATED = hasattr(ssl.SSLSocket, "group")  # CPython 3.15
NEGOTIATED = ("group", "client_sigalg", "server_sigalg")


def configure(mod, side, scenario, ctx, pki):
    """Apply one scenario to one side's context; False when this module's
    contexts lack the API the scenario needs."""
    if scenario == "TLS 1.2" and side == "client":
        ctx.maximum_version = mod.TLSVersion.TLSv1_2
    elif scenario == "client certificate":
        if side == "server":
            ctx.verify_mode = mod.CERT_REQUIRED
            ctx.load_verify_locations(cadata=pki["cadata"])
        else:
            ctx.load_cert_chain(*pki["client"])
    elif scenario == "set_groups":
        if not hasattr(ctx, "set_groups"):
            return False
        ctx.set_groups("secp384r1:X25519" if side == "client" else "secp384r1")
    elif scenario == "set_server_sigalgs" and side == "client":
        if not hasattr(ctx, "set_server_sigalgs"):
            return False
        ctx.set_server_sigalgs("rsa_pss_rsae_sha384")
    return True


def views(cmod, smod, scenario, pki):
    sctx = smod.SSLContext(smod.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(*pki["ecdsa" if scenario == "ECDSA certificate" else "rsa"])
    cctx = cmod.SSLContext(cmod.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=pki["cadata"])
    if not (configure(cmod, "client", scenario, cctx, pki)
            and configure(smod, "server", scenario, sctx, pki)):
        return None
    return handshake(cctx, sctx)


@pytest.mark.same_openssl  # what each end prefers is the linked OpenSSL release's
@pytest.mark.parametrize("scenario", ["TLS 1.3", "TLS 1.2", "ECDSA certificate",
                                      "client certificate", "set_groups",
                                      "set_server_sigalgs"])
def test_negotiated_parameters_match_the_stdlib(pki, scenario):
    """group(), client_sigalg(), server_sigalg(), cipher and version seen by
    each end, with tlsctx and stdlib peers in every pairing: the same as two
    stdlib peers report on 3.15 (as two tlsctx peers report, before 3.15,
    where the stdlib's connections lack the three queries)."""
    pairs = [(tlsctx, tlsctx), (tlsctx, ssl), (ssl, tlsctx), (ssl, ssl)]
    results = {(c.__name__, s.__name__): views(c, s, scenario, pki) for c, s in pairs}
    reference = results[("ssl", "ssl") if STDLIB_HAS_NEGOTIATED else ("tlsctx", "tlsctx")]
    if reference is None:
        pytest.skip("the stdlib %s has no %s" % (sys.version.split()[0], scenario))
    compared = 0
    for (cname, sname), seen in results.items():
        if seen is None:
            continue
        for index, name in ((0, cname), (1, sname)):
            view, expected = seen[index], reference[index]
            shared = set(view) & set(expected)
            assert {k: view[k] for k in shared} == {k: expected[k] for k in shared}, \
                (cname, sname, index)
            compared += bool(shared & set(NEGOTIATED))
    assert compared >= 2
