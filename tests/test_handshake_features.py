"""What fires during a handshake, each as a real handshake on loopback and
each compared with the stdlib doing the same: host-name checks, verify_mode,
verify_flags (STRICT, PARTIAL_CHAIN, CRL checks), the SNI callback, ALPN,
PSK, key logging, tickets and resumption, session statistics,
post-handshake authentication, and what a handshake does to the trust store
(capath look-ups, the order get_ca_certs reports).

Every scenario is a function of the module (tlsctx or ssl) that builds the
contexts; it runs with both libraries on both sides, and with the two mixed,
and the outcomes (results or errors, on the client and the server) must be
the stdlib's."""
import datetime
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import tlsctx
from helpers import SAME_OPENSSL, strip_location
from peers import HOST, MODULES, OPENSSL

# Where the running interpreter's ssl is older than 3.13's, the stdlib side
# of a comparison is missing (documented differences only).
STDLIB_DIFFERENCES = {
    # SSLContext.set_psk_client_callback/set_psk_server_callback: new in 3.13
    "psk": sys.version_info >= (3, 13),
    # how an exception raised in an SNI or PSK callback reaches
    # sys.unraisablehook: 3.14's err_msg (naming the callback) and object None
    # (DOCUMENTED_DIFFERENCES "unraisable callback exceptions")
    "unraisable": sys.version_info >= (3, 14),
}

# Reason names tlsctx's error table has (it is generated from the OpenSSL
# headers) and the stdlib's 3.10-3.13 tables lack (CPython generates its table
# from OpenSSL's err/openssl.txt): the stdlib reports reason None and
# "[SSL] text" for these. Reported to the lead; compared with that in mind.
REASONS_MISSING_FROM_STDLIB_TABLE = {"TLSV1_ALERT_UNKNOWN_PSK_IDENTITY",
                                     "TLSV1_ALERT_NO_APPLICATION_PROTOCOL"}

PAIRINGS = ["tlsctx-tlsctx", "tlsctx-stdlib", "stdlib-tlsctx"]

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def message(exc):
    return strip_location(exc)


def error_outcome(exc):
    text, reason = message(exc), getattr(exc, "reason", None)
    if reason in REASONS_MISSING_FROM_STDLIB_TABLE:
        text, reason = text.replace("[SSL: %s]" % reason, "[SSL]"), None
    return ("raise", type(exc).__name__, text, getattr(exc, "errno", None),
            getattr(exc, "library", None), reason,
            getattr(exc, "verify_code", None), getattr(exc, "verify_message", None))


# ---- certificates, made with cryptography at test time -----------------------------------------

NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Issued:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)


def issue(cn, issuer=None, *, ca=False, san=("localhost", HOST), akid=True, ski=True,
          key_usage=True, serial=None):
    """A certificate for `cn`, signed by `issuer` (self-signed when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signer_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=1))
               .not_valid_after(NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                        critical=False)
    if akid:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False)
    if key_usage:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=not ca, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
            encipher_only=False, decipher_only=False), critical=True)
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                   x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if san:
        import ipaddress
        names = []
        for entry in san:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(entry)))
            except ValueError:
                names.append(x509.DNSName(entry))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def crl_of(issuer, revoked=()):
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.cert.subject)
               .last_update(NOW - datetime.timedelta(days=1))
               .next_update(NOW + datetime.timedelta(days=30))
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer.key.public_key()), critical=False)
               .add_extension(x509.CRLNumber(1), critical=False))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.cert.serial_number)
            .revocation_date(NOW - datetime.timedelta(hours=1)).build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class Pki:
    def __init__(self, directory):
        self.dir = directory
        self.root = issue("Fire Root CA", ca=True, san=None)
        self.other_root = issue("Fire Other Root CA", ca=True, san=None)
        self.inter = issue("Fire Intermediate CA", self.root, ca=True, san=None)
        self.root_no_ku = issue("Fire Root CA without keyUsage", ca=True, san=None,
                                key_usage=False)
        leaves = {
            "good": issue("localhost", self.root),
            "other_name": issue("other.example", self.root, san=("other.example",)),
            "idn": issue("xn--pythn-mua.example", self.root, san=("xn--pythn-mua.example",)),
            "cn_only": issue("localhost", self.root, san=None),
            "no_akid": issue("localhost", self.root, akid=False),
            "revoked": issue("localhost", self.root),
            "under_inter": issue("localhost", self.inter),
            "under_no_ku": issue("localhost", self.root_no_ku),
            "untrusted": issue("localhost", self.other_root),
            "client": issue("client.example", self.root, san=("client.example",)),
        }
        self.leaves = leaves
        self.files = {}
        for name, leaf in leaves.items():
            chain = [leaf]
            if name == "under_inter":
                chain.append(self.inter)
            key = leaf.key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
            self.files[name] = self.write(name + ".pem", key + b"".join(c.pem for c in chain))
        self.cafile = self.write("root.pem", self.root.pem)
        self.inter_file = self.write("inter.pem", self.inter.pem)
        self.no_ku_file = self.write("root-no-ku.pem", self.root_no_ku.pem)
        self.crl_file = self.write("root+crl.pem", self.root.pem + crl_of(self.root,
                                                                         [leaves["revoked"]]))
        self.other_root_file = self.write("other-root.pem", self.other_root.pem)
        # leaf-only: OpenSSL completes the chain a server sends from its store
        self.leaf_only_file = self.write("leaf-only.pem", leaves["under_inter"].key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()) + leaves["under_inter"].pem)
        # CAs in no particular order, the root among them
        cas = [issue("Fire CA %02d" % i, ca=True, san=None) for i in (7, 3, 9, 1, 5)]
        self.many_cas = self.write("many.pem", b"".join(c.pem for c in cas[:3]) + self.root.pem
                                   + b"".join(c.pem for c in cas[3:]))
        self.crl_chain_file = self.write(
            "root+inter+crl.pem", self.root.pem + self.inter.pem + crl_of(self.root))

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


# ---- one handshake on loopback ------------------------------------------------------------------

def handshake(cctx, sctx, hostname="localhost", server_info=None, client_info=None,
              session=None):
    """A client over `cctx` connects to a server over `sctx` (a thread);
    each side reports ('ok', ...) or the error it met. The server sends
    b"ok" after its handshake, then runs `server_info`; the client reads the
    b"ok" before `client_info`, so TLS 1.3 tickets and post-handshake alerts
    have arrived when it reports."""
    listener = socket.create_server((HOST, 0))
    box = {}

    def serve():
        raw, _ = listener.accept()
        raw.settimeout(60)   # a safety net against a hung peer, not a timing check
        try:
            with sctx.wrap_socket(raw, server_side=True) as conn:
                conn.sendall(b"ok")
                info = server_info(conn) if server_info else None
                try:
                    conn.recv(1)   # until the client leaves
                except (ssl.SSLError, OSError):
                    pass
            box["server"] = ("ok", info)
        except Exception as exc:  # noqa: BLE001 - the outcome
            box["server"] = error_outcome(exc)
        finally:
            raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname()) as raw:
            raw.settimeout(60)
            try:
                with cctx.wrap_socket(raw, server_hostname=hostname, session=session) as conn:
                    got = conn.recv(2)
                    info = client_info(conn) if client_info else None
                    box["session"] = conn.session
                box["client"] = ("ok", got, info)
            except Exception as exc:  # noqa: BLE001 - the outcome
                box["client"] = error_outcome(exc)
    finally:
        thread.join(60)
        listener.close()
    assert not thread.is_alive()
    return box


def peer_subject(conn):
    der = conn.getpeercert(True)
    return None if der is None else x509.load_der_x509_certificate(der).subject.rfc4514_string()


def compare(scenario, pairing, **kwargs):
    """Run `scenario(module, side)` -> context for the pairing and for
    stdlib-stdlib; both outcomes (client, server) must be equal."""
    cname, sname = pairing.split("-")

    def run(cmod, smod):
        box = handshake(scenario(cmod, "client"), scenario(smod, "server"), **kwargs)
        return box["client"], box["server"]

    mine = run(MODULES[cname], MODULES[sname])
    theirs = run(ssl, ssl)
    if not SAME_OPENSSL:
        # another OpenSSL words its error strings its own way: compare the
        # class, library, reason and codes, not the text
        mine, theirs = without_error_text(mine), without_error_text(theirs)
    assert mine == theirs
    return mine


def without_error_text(outcomes):
    return tuple(o[:2] + (None,) + o[3:] if isinstance(o, tuple) and o and o[0] == "raise" else o
                 for o in outcomes)


def plain_client(mod, cafile=None):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    return ctx


def plain_server(mod, certfile):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile)
    return ctx


# ---- check_hostname / hostname_checks_common_name -----------------------------------------------

@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("common_name", [False, True])
@pytest.mark.parametrize("check_hostname", [False, True])
@pytest.mark.parametrize("hostname", ["localhost", "elsewhere.example"])
def test_hostname_checks(pki, pairing, common_name, check_hostname, hostname):
    def scenario(mod, side):
        if side == "server":
            return plain_server(mod, pki.files["cn_only"])
        ctx = plain_client(mod, pki.cafile)
        ctx.check_hostname = check_hostname
        ctx.hostname_checks_common_name = common_name
        return ctx

    client, server = compare(scenario, pairing, hostname=hostname, client_info=peer_subject)
    expect_ok = not check_hostname or (common_name and hostname == "localhost")
    assert (client[0] == "ok") == expect_ok


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("hostname", ["localhost", HOST, "127.0.0.2", "other.example"])
def test_hostname_against_san(pki, pairing, hostname):
    def scenario(mod, side):
        if side == "server":
            return plain_server(mod, pki.files["good"])
        ctx = plain_client(mod, pki.cafile)
        ctx.hostname_checks_common_name = True   # the SAN still wins
        return ctx

    client, _ = compare(scenario, pairing, hostname=hostname)
    assert (client[0] == "ok") == (hostname in ("localhost", HOST))


# ---- verify_mode ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("mode", ["CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED"])
@pytest.mark.parametrize("server_cert", ["good", "untrusted"])
def test_client_verify_mode(pki, pairing, mode, server_cert):
    def scenario(mod, side):
        if side == "server":
            return plain_server(mod, pki.files[server_cert])
        ctx = plain_client(mod, pki.cafile)
        ctx.check_hostname = False
        ctx.verify_mode = getattr(mod, mode)
        return ctx

    def info(conn):
        return peer_subject(conn), conn.getpeercert() == {}

    client, _ = compare(scenario, pairing, client_info=info)
    assert (client[0] == "ok") == (mode == "CERT_NONE" or server_cert == "good")


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("mode", ["CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED"])
@pytest.mark.parametrize("client_cert", [None, "client", "untrusted"])
def test_server_verify_mode(pki, pairing, version, mode, client_cert):
    def scenario(mod, side):
        if side == "server":
            ctx = plain_server(mod, pki.files["good"])
            ctx.load_verify_locations(pki.cafile)
            ctx.verify_mode = getattr(mod, mode)
            ctx.maximum_version = getattr(mod.TLSVersion, version)
            return ctx
        ctx = plain_client(mod, pki.cafile)
        if client_cert:
            ctx.load_cert_chain(pki.files[client_cert])
        return ctx

    client, server = compare(scenario, pairing, server_info=peer_subject)
    expect_ok = (mode == "CERT_NONE" or client_cert == "client"
                 or (mode == "CERT_OPTIONAL" and client_cert is None))
    assert (server[0] == "ok") == expect_ok
    if expect_ok and mode != "CERT_NONE" and client_cert:
        assert server[1] == "CN=client.example"


# ---- verify_flags ----------------------------------------------------------------------------------

def flags_scenario(pki, server_cert, cafile, flag_names):
    def scenario(mod, side):
        if side == "server":
            return plain_server(mod, pki.files[server_cert])
        ctx = plain_client(mod, cafile)
        for name in flag_names:
            ctx.verify_flags |= getattr(mod.VerifyFlags, name)
        return ctx
    return scenario


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("case", ["no_akid", "under_no_ku", "good"])
def test_verify_x509_strict(pki, pairing, strict, case):
    cafile = pki.no_ku_file if case == "under_no_ku" else pki.cafile
    scenario = flags_scenario(pki, case, cafile, ["VERIFY_X509_STRICT"] if strict else [])
    client, _ = compare(scenario, pairing)
    # the certificates are made so that only STRICT rejects them
    assert (client[0] == "ok") == (case == "good" or not strict)
    if client[0] != "ok":
        assert client[1] == "SSLCertVerificationError"


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("partial", [False, True])
def test_verify_x509_partial_chain(pki, pairing, partial):
    scenario = flags_scenario(pki, "under_inter", pki.inter_file,
                              ["VERIFY_X509_PARTIAL_CHAIN"] if partial else [])
    client, _ = compare(scenario, pairing)
    assert (client[0] == "ok") == partial


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("case", [
    ("good", "crl_file", "VERIFY_CRL_CHECK_LEAF", True),
    ("revoked", "crl_file", "VERIFY_CRL_CHECK_LEAF", False),
    ("revoked", "crl_file", None, True),
    ("good", "cafile", "VERIFY_CRL_CHECK_LEAF", False),          # no CRL at all
    ("good", "crl_file", "VERIFY_CRL_CHECK_CHAIN", True),
    ("under_inter", "crl_chain_file", "VERIFY_CRL_CHECK_LEAF", False),  # no CRL of the intermediate
    ("under_inter", "crl_chain_file", "VERIFY_CRL_CHECK_CHAIN", False),
], ids=lambda c: "-".join(str(x) for x in c))
def test_crl_checks(pki, pairing, case):
    server_cert, cafile, flag, expect_ok = case
    scenario = flags_scenario(pki, server_cert, getattr(pki, cafile), [flag] if flag else [])
    client, _ = compare(scenario, pairing)
    assert (client[0] == "ok") == expect_ok
    if not expect_ok:
        assert client[1] == "SSLCertVerificationError"
        assert client[7] in ("certificate revoked", "unable to get certificate CRL")


def test_crl_counted_in_store_stats(pki):
    def stats(mod):
        ctx = plain_client(mod, pki.crl_file)
        return ctx.cert_store_stats()
    assert stats(tlsctx) == stats(ssl)
    assert stats(tlsctx)["crl"] == 1


# ---- SNI ---------------------------------------------------------------------------------------------

def sni_server(mod, pki, callback, legacy=False):
    ctx = plain_server(mod, pki.files["good"])
    if legacy:
        ctx.set_servername_callback(callback)
    else:
        ctx.sni_callback = callback
    return ctx


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("hostname", ["localhost", HOST, "xn--pythn-mua.example", "pythön.example"])
@pytest.mark.parametrize("pairing", PAIRINGS)
def test_sni_callback_arguments(pki, pairing, hostname, legacy):
    """(sslobject, server_name, context): the server's own SSLSocket, the
    name as an A-label str or None for an IP address, the context. (The
    legacy set_servername_callback is documented to pass a U-label, but the
    stdlib's shim passes the A-label too; tlsctx does what the stdlib does.)"""
    seen = []

    def scenario(mod, side):
        if side == "client":
            ctx = plain_client(mod, pki.cafile)
            ctx.check_hostname = False
            return ctx

        def callback(sslobj, name, context):
            seen.append((sslobj, name, context is ctx))

        ctx = sni_server(mod, pki, callback, legacy)
        return ctx

    def server_info(conn):
        (sslobj, name, same_context), = seen
        seen.clear()
        return sslobj is conn, type(sslobj).__name__, name, same_context

    client, server = compare(scenario, pairing, hostname=hostname, server_info=server_info)
    assert server[0] == "ok" and server[1][0] is True and server[1][3] is True
    expected = {HOST: None, "localhost": "localhost"}.get(hostname, "xn--pythn-mua.example")
    assert server[1][2] == expected


def bio_objects(mod, cctx, sctx, hostname="localhost"):
    pairs = [(mod.MemoryBIO(), mod.MemoryBIO()) for _ in range(2)]
    client = cctx.wrap_bio(*pairs[0], server_hostname=hostname)
    server = sctx.wrap_bio(*pairs[1], server_side=True)
    return (client, pairs[0]), (server, pairs[1])


def drive_bios(*ends):
    """Handshake SSLObjects over their memory BIOs, moving bytes by hand."""
    (client, (c_in, c_out)), (server, (s_in, s_out)) = ends
    for _ in range(20):
        for obj in (client, server):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        moved = False
        for src, dst in ((c_out, s_in), (s_out, c_in)):
            data = src.read()
            if data:
                dst.write(data)
                moved = True
        if not moved:
            return


def test_sni_callback_sslobject_over_bios(pki):
    """wrap_bio: the callback gets the SSLObject."""
    def run(mod):
        seen = []
        sctx = sni_server(mod, pki, lambda obj, name, ctx: seen.append((obj, name, ctx)))
        ends = bio_objects(mod, plain_client(mod, pki.cafile), sctx)
        drive_bios(*ends)
        client, server = ends[0][0], ends[1][0]
        obj, name, ctx = seen[0]
        return (len(seen), obj is server, type(obj).__name__, name, ctx is sctx,
                client.version() == server.version() == "TLSv1.3")

    mine = run(tlsctx)
    assert mine == run(ssl)
    assert mine == (1, True, "SSLObject", "localhost", True, True)


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("legacy", [False, True])
def test_sni_callback_switches_context(pki, pairing, legacy):
    def scenario(mod, side):
        if side == "client":
            return plain_client(mod, pki.cafile)
        other = plain_server(mod, pki.files["other_name"])

        def callback(sslobj, name, context):
            if name == "other.example":
                sslobj.context = other
                assert sslobj.context is other

        return sni_server(mod, pki, callback, legacy)

    for hostname in ("other.example", "localhost"):
        client, server = compare(scenario, pairing, hostname=hostname, client_info=peer_subject)
        assert client == ("ok", b"ok", "CN=" + hostname)


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("alert", ["ALERT_DESCRIPTION_ACCESS_DENIED",
                                   "ALERT_DESCRIPTION_UNRECOGNIZED_NAME",
                                   "ALERT_DESCRIPTION_INTERNAL_ERROR"])
def test_sni_callback_alert(pki, pairing, alert):
    def scenario(mod, side):
        if side == "client":
            return plain_client(mod, pki.cafile)
        return sni_server(mod, pki, lambda obj, name, ctx: getattr(mod, alert))

    client, server = compare(scenario, pairing)
    assert client[0] == server[0] == "raise"


def newest_unraisable(u):
    """(exception type, message, err_msg) of a sys.unraisablehook call as
    CPython 3.14+ makes it for SNI and PSK callbacks: err_msg names the
    callback, object is None.  Before 3.14 the stdlib passes err_msg None and
    the callback (or the SNI callback's bad result) as object: rewritten here
    into 3.14's form, the one tlsctx gives on every interpreter."""
    err_msg = u.err_msg
    if err_msg is None and u.object is not None:
        if callable(u.object):
            # the PSK and SNI callbacks, told apart by what they were named
            name = getattr(u.object, "__name__", "")
            where = {"client_cb": "ssl PSK client callback while calling callback",
                     "server_cb": "ssl PSK server callback while calling callback"}.get(
                name, "ssl servername callback while calling set SNI callback")
            err_msg = "Exception ignored in %s %r" % (where, u.object)
        else:
            err_msg = ("Exception ignored in ssl servername callback while calling "
                       "set SNI callback (result=%r)" % (u.object,))
    elif u.object is not None:
        err_msg = "unexpected object %r" % (u.object,)
    # callbacks differ between runs only by their address
    err_msg = re.sub(r" at 0x[0-9a-f]+", "", err_msg or "")
    return (u.exc_type.__name__, str(u.exc_value), err_msg)


class Unraisables:
    """Collects what reaches sys.unraisablehook (from any thread)."""

    def __init__(self, monkeypatch):
        self.seen = []
        monkeypatch.setattr(sys, "unraisablehook", self.seen.append)

    def take(self, stdlib=False):
        """The calls so far, in 3.14's form; an older stdlib's are rewritten
        into it (documented), tlsctx's must already have it."""
        if not stdlib or STDLIB_DIFFERENCES["unraisable"]:
            assert all(u.object is None for u in self.seen), [u.object for u in self.seen]
        out = [newest_unraisable(u) for u in self.seen]
        self.seen.clear()
        return out


@pytest.mark.same_openssl  # the linked OpenSSL's own errors and store order
@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("bad", ["raises", "returns a str"])
def test_sni_callback_failure(pki, pairing, bad, monkeypatch):
    """An exception in the callback: the unraisable hook sees it (with the
    callback, or the bad result, as its object) and the handshake fails with
    a handshake-failure (internal-error) alert."""
    hooks = Unraisables(monkeypatch)
    callbacks = {}

    def scenario(mod, side):
        if side == "client":
            return plain_client(mod, pki.cafile)

        def callback(obj, name, ctx):
            if bad == "raises":
                raise ZeroDivisionError("sni went wrong")
            return "not an alert"

        callbacks[mod.__name__] = callback
        return sni_server(mod, pki, callback)

    cname, sname = pairing.split("-")
    results = {}
    for label, (cmod, smod) in (("mine", (MODULES[cname], MODULES[sname])), ("theirs", (ssl, ssl))):
        box = handshake(scenario(cmod, "client"), scenario(smod, "server"))
        results[label] = (box["client"], box["server"], hooks.take(stdlib=smod is ssl))
    assert results["mine"] == results["theirs"]
    assert results["mine"][0][0] == "raise" and len(results["mine"][2]) == 1
    assert results["mine"][2][0][2].startswith(
        "Exception ignored in ssl servername callback while calling set SNI callback")


def test_sni_callback_none_unsets(pki):
    def run(mod):
        calls = []
        sctx = sni_server(mod, pki, lambda *a: calls.append(a))
        sctx.sni_callback = None
        box = handshake(plain_client(mod, pki.cafile), sctx)
        return box["client"], calls, sctx.sni_callback
    assert run(tlsctx) == run(ssl) == (("ok", b"ok", None), [], None)


# ---- ALPN ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("protocols", [
    (["h2", "http/1.1"], ["http/1.1", "h2"]),
    (["h2", "http/1.1"], ["spdy/3", "http/1.1"]),
    (["h2"], ["http/1.1"]),         # no overlap
    (None, ["http/1.1"]),
    (["h2"], None),
], ids=str)
def test_alpn(pki, pairing, protocols):
    client_protos, server_protos = protocols

    def scenario(mod, side):
        if side == "client":
            ctx = plain_client(mod, pki.cafile)
            protos = client_protos
        else:
            ctx = plain_server(mod, pki.files["good"])
            protos = server_protos
        if protos is not None:
            ctx.set_alpn_protocols(protos)
        return ctx

    def alpn(conn):
        return conn.selected_alpn_protocol()

    client, server = compare(scenario, pairing, client_info=alpn, server_info=alpn)
    overlap = [p for p in (server_protos or []) if p in (client_protos or [])]
    assert client[2] == server[1] == (overlap[0] if overlap else None)


# ---- PSK -----------------------------------------------------------------------------------------------

KEY = bytes.fromhex("c0ffee" * 10)


def psk_scenario(version, hint="server hint", client_key=KEY, server_key=KEY,
                 client_raises=False, server_raises=False, calls=None):
    calls = calls if calls is not None else []

    def scenario(mod, side):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT if side == "client" else mod.PROTOCOL_TLS_SERVER)
        member = getattr(mod.TLSVersion, version)
        ctx.minimum_version = ctx.maximum_version = member
        if version == "TLSv1_2":
            ctx.set_ciphers("PSK")
        if side == "client":
            ctx.check_hostname = False
            ctx.verify_mode = mod.CERT_NONE

            def client_cb(got_hint):
                calls.append(("client", got_hint))
                if client_raises:
                    raise RuntimeError("client psk failed")
                return "client identity", client_key
            ctx.set_psk_client_callback(client_cb)
        else:
            def server_cb(identity):
                calls.append(("server", identity))
                if server_raises:
                    raise RuntimeError("server psk failed")
                return server_key
            ctx.set_psk_server_callback(server_cb, hint)
        return ctx
    return scenario


def psk_compare(pairing, monkeypatch, **kwargs):
    """The PSK scenario for the pairing and for the stdlib alone; before 3.13
    the stdlib has no PSK callbacks: tlsctx alone, checked by the caller."""
    hooks = Unraisables(monkeypatch)
    cname, sname = pairing.split("-")
    runs = [("mine", (MODULES[cname], MODULES[sname])), ("theirs", (ssl, ssl))]
    if not STDLIB_DIFFERENCES["psk"]:
        if "stdlib" in pairing:
            pytest.skip("the stdlib's ssl has PSK callbacks from 3.13 only")
        runs = runs[:1]
    results = {}
    for label, (cmod, smod) in runs:
        calls = []
        scenario = psk_scenario(calls=calls, **kwargs)

        def info(conn):
            return conn.version(), conn.cipher()[0]
        box = handshake(scenario(cmod, "client"), scenario(smod, "server"), hostname=None,
                        client_info=info, server_info=info)
        results[label] = (box["client"], box["server"], sorted(calls),
                          hooks.take(stdlib=ssl in (cmod, smod)))
    assert results["mine"] == results.get("theirs", results["mine"])
    return results["mine"]


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_psk_handshake(pairing, version, monkeypatch):
    client, server, calls, raised = psk_compare(pairing, monkeypatch, version=version)
    assert client[0] == server[0] == "ok"
    assert client[2][0] == version.replace("_", ".")
    hint = "server hint" if version == "TLSv1_2" else None   # TLS 1.3 has no hint
    assert ("client", hint) in calls and ("server", "client identity") in calls
    assert raised == []


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_psk_no_hint(pairing, version, monkeypatch):
    client, server, calls, _ = psk_compare(pairing, monkeypatch, version=version, hint=None)
    assert client[0] == "ok" and ("client", None) in calls


@pytest.mark.same_openssl  # the linked OpenSSL's own errors and store order
@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("failure", ["wrong key", "client raises", "server raises"])
def test_psk_failures(pairing, version, failure, monkeypatch):
    kwargs = {"wrong key": {"server_key": bytes(30)},
              "client raises": {"client_raises": True},
              "server raises": {"server_raises": True}}[failure]
    client, server, calls, raised = psk_compare(pairing, monkeypatch, version=version, **kwargs)
    assert client[0] == "raise" or server[0] == "raise"
    assert len(raised) == (0 if failure == "wrong key" else 1)


# ---- key logging ---------------------------------------------------------------------------------

def keylog_lines(path):
    with open(path) as f:
        return f.read().splitlines()


@pytest.mark.parametrize("pairing", PAIRINGS + ["stdlib-stdlib"])
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_keylog_filename(pki, tmp_path, pairing, version):
    cname, sname = pairing.split("-")
    cmod, smod = MODULES[cname], MODULES[sname]
    paths = {side: str(tmp_path / ("%s-%s.log" % (pairing, side))) for side in ("client", "server")}
    cctx = plain_client(cmod, pki.cafile)
    cctx.keylog_filename = paths["client"]
    sctx = plain_server(smod, pki.files["good"])
    sctx.maximum_version = getattr(smod.TLSVersion, version)
    sctx.keylog_filename = paths["server"]
    box = handshake(cctx, sctx)
    assert box["client"][0] == box["server"][0] == "ok"
    logs = {side: keylog_lines(path) for side, path in paths.items()}
    # both ends log the same secrets of the same connection
    assert sorted(logs["client"][1:]) == sorted(logs["server"][1:])
    labels = sorted(line.split()[0] for line in logs["client"][1:])
    if version == "TLSv1_2":
        assert labels == ["CLIENT_RANDOM"]
    else:
        assert labels == sorted(["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
                                 "EXPORTER_SECRET"])
    for line in logs["client"][1:]:
        label, random, secret = line.split()
        assert len(bytes.fromhex(random)) == 32 and len(bytes.fromhex(secret)) >= 32
    # the same header line the stdlib writes on a new file
    std_path = str(tmp_path / "reference.log")
    ssl.create_default_context().keylog_filename = std_path
    for side, mod in (("client", cmod), ("server", smod)):
        assert logs[side][0] == keylog_lines(std_path)[0]
        # tlsctx creates key-log files 0600 (docs/api.md); the stdlib's
        # fopen() leaves the mode to the umask, so it is not compared
        if mod is tlsctx:
            assert stat.S_IMODE(os.stat(paths[side]).st_mode) == 0o600


def test_keylog_appends_across_connections(pki, tmp_path):
    """A second connection appends to the same file, no second header."""
    counts = {}
    for name, mod in MODULES.items():
        path = str(tmp_path / (name + ".log"))
        cctx = plain_client(mod, pki.cafile)
        cctx.keylog_filename = path
        for _ in range(2):
            assert handshake(cctx, plain_server(ssl, pki.files["good"]))["client"][0] == "ok"
        lines = keylog_lines(path)
        counts[name] = (len(lines), sum(line.startswith("#") for line in lines))
    assert counts["tlsctx"] == counts["stdlib"]


# ---- tickets, resumption, session statistics ------------------------------------------------------

def sequence(cmod, smod, pki, version, num_tickets=None, rounds=3):
    """`rounds` connections, each offering the previous one's session; the
    stats of both contexts and what each connection saw."""
    sctx = plain_server(smod, pki.files["good"])
    sctx.maximum_version = getattr(smod.TLSVersion, version)
    if num_tickets is not None:
        sctx.num_tickets = num_tickets
    cctx = plain_client(cmod, pki.cafile)
    seen, session = [], None
    for _ in range(rounds):
        box = handshake(cctx, sctx, session=session,
                        client_info=lambda c: (c.session_reused, c.version()),
                        server_info=lambda c: c.session_reused)
        seen.append((box["client"], box["server"]))
        session = box.get("session")
    return seen, cctx.session_stats(), sctx.session_stats(), sctx.num_tickets, session


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("num_tickets", [None, 0, 1, 4])
def test_resumption_and_session_stats(pki, pairing, version, num_tickets):
    cname, sname = pairing.split("-")
    mine = sequence(MODULES[cname], MODULES[sname], pki, version, num_tickets)
    theirs = sequence(ssl, ssl, pki, version, num_tickets)
    assert mine[:4] == theirs[:4]
    reused = [client[2][0] for client, _server in mine[0]]
    if version == "TLSv1_3" and num_tickets == 0:
        assert reused == [False, False, False]
    else:
        assert reused == [False, True, True]


@needs_openssl
@pytest.mark.parametrize("server", ["tlsctx", "stdlib"])
@pytest.mark.parametrize("num_tickets", [0, 1, 2, 5])
def test_num_tickets_issued(pki, server, num_tickets):
    """Count the NewSessionTicket messages `openssl s_client -msg` receives."""
    smod = MODULES[server]
    sctx = plain_server(smod, pki.files["good"])
    sctx.num_tickets = num_tickets
    listener = socket.create_server((HOST, 0))
    errors = []

    def serve():
        raw, _ = listener.accept()
        try:
            with sctx.wrap_socket(raw, server_side=True) as conn:
                line = b""
                while not line.endswith(b"\n"):
                    chunk = conn.recv(100)
                    if not chunk:
                        break
                    line += chunk
                conn.sendall(b"echo " + line)
                conn.unwrap()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    proc = subprocess.run(
        [OPENSSL, "s_client", "-connect", "%s:%d" % listener.getsockname(), "-CAfile", pki.cafile,
         "-servername", "localhost", "-tls1_3", "-msg", "-ign_eof"],
        input=b"hi\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    thread.join(60)
    listener.close()
    assert errors == []
    assert b"echo hi" in proc.stdout
    tickets = proc.stdout.count(b"NewSessionTicket")
    assert tickets == num_tickets, proc.stdout.decode(errors="replace")


def test_num_tickets_client_context_rejected():
    outcomes = []
    for mod in (tlsctx, ssl):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        try:
            ctx.num_tickets = 1
            outcomes.append("ok")
        except ValueError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1] != "ok"


# ---- post-handshake authentication ------------------------------------------------------------

def pha_run(cmod, smod, pki, client_pha=True, client_cert="client", version="TLSv1_3"):
    sctx = plain_server(smod, pki.files["good"])
    sctx.load_verify_locations(pki.cafile)
    sctx.verify_mode = smod.CERT_REQUIRED
    sctx.post_handshake_auth = True
    sctx.maximum_version = getattr(smod.TLSVersion, version)
    cctx = plain_client(cmod, pki.cafile)
    if client_cert:
        cctx.load_cert_chain(pki.files[client_cert])
    cctx.post_handshake_auth = client_pha

    def server_info(conn):
        steps = [conn.getpeercert(True) is None]
        assert conn.recv(3) == b"pha"
        try:
            conn.verify_client_post_handshake()
            steps.append("requested")
        except ssl.SSLError as exc:
            steps.append(error_outcome(exc))
        conn.sendall(b"go")          # carries the CertificateRequest
        try:
            steps.append(conn.recv(4))   # the client's certificate comes first
            steps.append(peer_subject(conn))
        except ssl.SSLError as exc:
            steps.append(error_outcome(exc))
        return steps

    def client_info(conn):
        conn.sendall(b"pha")
        try:
            got = conn.recv(2)       # handles the CertificateRequest on the way
            conn.sendall(b"more")
            return got
        except ssl.SSLError as exc:
            return error_outcome(exc)

    box = handshake(cctx, sctx, server_info=server_info, client_info=client_info)
    return box["client"], box["server"]


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("case", ["ok", "client without pha", "client without cert",
                                  "untrusted client cert", "TLS 1.2"])
def test_post_handshake_auth(pki, pairing, case):
    kwargs = {"ok": {}, "client without pha": {"client_pha": False},
              "client without cert": {"client_cert": None},
              "untrusted client cert": {"client_cert": "untrusted"},
              "TLS 1.2": {"version": "TLSv1_2"}}[case]
    cname, sname = pairing.split("-")
    mine = pha_run(MODULES[cname], MODULES[sname], pki, **kwargs)
    theirs = pha_run(ssl, ssl, pki, **kwargs)
    if case in ("client without cert", "untrusted client cert"):
        # The server rejects the certificate before it has read the rest of
        # the client's flight and closes: whether the client then meets the
        # alert, a reset or nothing is timing. The server's side is compared.
        mine, theirs = mine[1], theirs[1]
        assert mine[0] == "ok" and mine[1][:2] == [True, "requested"]
        assert mine[1][2][0] == "raise"
    assert mine == theirs
    if case == "ok":
        assert mine[1] == ("ok", [True, "requested", b"more", "CN=client.example"])


# ---- the trust store during handshakes (issues 3 and 9) ----------------------------------------------

def subject_hash(path):
    return subprocess.run([OPENSSL, "x509", "-hash", "-noout", "-in", path], check=True,
                          capture_output=True, text=True).stdout.strip()


def make_capath(directory, *pem_files):
    os.makedirs(directory, exist_ok=True)
    for path in pem_files:
        h = subject_hash(path)
        n = 0
        while os.path.exists(os.path.join(directory, "%s.%d" % (h, n))):
            n += 1
        shutil.copy(path, os.path.join(directory, "%s.%d" % (h, n)))
    return str(directory)


def trust_view(ctx):
    return ctx.cert_store_stats(), ctx.get_ca_certs(True)


@needs_openssl
@pytest.mark.parametrize("side", ["client verifies", "server verifies", "server builds chain"])
@pytest.mark.parametrize("layout", ["capath", "capath+cafile", "cafile+capath"])
def test_capath_lookups_counted_like_stdlib(pki, tmp_path, side, layout):
    """After handshakes, a context whose CA is found through a capath reports
    the store the stdlib's reports (the CA counted once looked up, once
    however many handshakes), and a bystander context with the same trust
    reports what it did before."""
    capath = make_capath(tmp_path / "capath", pki.cafile, pki.inter_file)
    extra = pki.other_root_file

    def load(ctx):
        if layout == "capath":
            ctx.load_verify_locations(capath=capath)
        elif layout == "capath+cafile":
            ctx.load_verify_locations(capath=capath)
            ctx.load_verify_locations(extra)
        else:
            ctx.load_verify_locations(extra)
            ctx.load_verify_locations(capath=capath)

    def run(mod):
        if side == "client verifies":
            used = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
            load(used)
            peer = plain_server(ssl, pki.files["under_inter"])
            contexts = (used, peer)
        elif side == "server verifies":
            used = plain_server(mod, pki.files["good"])
            used.verify_mode = mod.CERT_REQUIRED
            load(used)
            peer = plain_client(ssl, pki.cafile)
            peer.load_cert_chain(pki.files["client"])
            contexts = (peer, used)
        else:
            # a leaf-only certificate file: OpenSSL completes the chain it
            # sends from the store, looking the intermediate up
            used = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
            used.load_cert_chain(pki.leaf_only_file)
            load(used)
            peer = plain_client(ssl, pki.cafile)
            contexts = (peer, used)
        bystander = used.__class__(used.protocol)
        load(bystander)
        views = [trust_view(used), trust_view(bystander)]
        for _ in range(2):
            box = handshake(*contexts)
            assert box["client"][0] == "ok", box
            views += [trust_view(used), trust_view(bystander)]
        fresh = mod.SSLContext(used.protocol)
        load(fresh)
        views.append(trust_view(fresh))
        return views

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    assert mine[1] == mine[3] == mine[5]          # the bystander never changed
    assert mine[0] != mine[2] == mine[4]           # looked up on the first handshake only


@needs_openssl
def test_capath_context_after_handshake_loads_more(pki, tmp_path):
    """A capath context made private by its first handshake still loads more
    trust and changes verify_flags as the stdlib's does."""
    capath = make_capath(tmp_path / "capath2", pki.cafile)

    def run(mod):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(capath=capath)
        box = handshake(ctx, plain_server(ssl, pki.files["good"]))
        views = [box["client"], trust_view(ctx)]
        ctx.load_verify_locations(pki.crl_file)
        ctx.verify_flags |= mod.VERIFY_CRL_CHECK_LEAF
        views.append(trust_view(ctx))
        box = handshake(ctx, plain_server(ssl, pki.files["revoked"]))
        views += [box["client"], trust_view(ctx)]
        return views

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    assert mine[3][-1] == "certificate revoked"


@pytest.mark.same_openssl  # the linked OpenSSL's own errors and store order
@pytest.mark.parametrize("side", ["client", "server"])
def test_get_ca_certs_order_after_handshake(pki, side):
    """The first look-up sorts the store: the used context's get_ca_certs
    order after a handshake is the stdlib's after the same handshake, and
    other contexts with the same trust keep the stdlib's fresh order."""
    cafile = pki.many_cas

    def run(mod):
        def new():
            if side == "client":
                ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
            else:
                ctx = plain_server(mod, pki.files["good"])
                ctx.verify_mode = mod.CERT_REQUIRED
            ctx.load_verify_locations(cafile)
            return ctx

        used, bystander = new(), new()
        before = used.get_ca_certs(), bystander.get_ca_certs()
        if side == "client":
            box = handshake(used, plain_server(ssl, pki.files["good"]))
        else:
            peer = plain_client(ssl, pki.cafile)
            peer.load_cert_chain(pki.files["client"])
            box = handshake(peer, used)
        assert box["client"][0] == "ok" and box["server"][0] == "ok"
        later = new()
        return (before, used.get_ca_certs(), bystander.get_ca_certs(), later.get_ca_certs(),
                used.cert_store_stats(), later.cert_store_stats())

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    before, after, bystander, later = mine[0][0], mine[1], mine[2], mine[3]
    assert sorted(map(repr, before)) == sorted(map(repr, after)) and before != after
    assert bystander == before and later == before


def test_get_ca_certs_order_when_loading_after_handshake(pki):
    """Loading more after the sorting handshake: the order the stdlib gives."""
    cafile = pki.many_cas

    def run(mod):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile)
        handshake(ctx, plain_server(ssl, pki.files["good"]))
        ctx.load_verify_locations(pki.no_ku_file)
        first = ctx.get_ca_certs()
        ctx.load_verify_locations(cafile)   # a repeat, on an unsorted store again
        return first, ctx.get_ca_certs(), ctx.cert_store_stats()

    assert run(tlsctx) == run(ssl)


@pytest.mark.same_openssl  # which duplicates a load misses is the linked OpenSSL's
def test_same_subject_certificates_loaded_after_handshake(pki, tmp_path):
    """CAs sharing a subject, apart in a bundle: loading the bundle again
    appends some of them again on OpenSSL 3.2+ unless a verification has
    sorted the list since. Contexts with the same loads but another history
    (a handshake in between or not) report what the stdlib's would, and a
    store built for one is not handed to the other."""
    twins = [issue("Fire Twin CA", ca=True, san=None) for _ in range(3)]
    bundle = [twins[0], pki.root, twins[1], pki.other_root, twins[2]]
    path = pki.write("twins-%s.pem" % tmp_path.name, b"".join(c.pem for c in bundle))
    reversed_der = b"".join(c.cert.public_bytes(serialization.Encoding.DER)
                            for c in reversed(bundle))

    def run(mod):
        views = []
        for between in (None, "handshake", None, "handshake"):
            for again in ((path,), (None, None, reversed_der)):
                ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(path)
                if between == "handshake":
                    box = handshake(ctx, plain_server(ssl, pki.files["good"]))
                    assert box["client"][0] == "ok", box
                ctx.load_verify_locations(*again)
                views.append(trust_view(ctx))
                ctx.load_verify_locations(path)
                views.append(trust_view(ctx))
        return views

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    if ssl.OPENSSL_VERSION_INFO >= (3, 2):
        # the unsorted reload appended twins again; the sorted one did not
        assert mine[0][0]["x509"] > mine[4][0]["x509"] == len(bundle)


@pytest.mark.same_openssl  # the linked OpenSSL's own errors and store order
@pytest.mark.parametrize("case", ["server sends a full chain", "psk only", "handshake refused"])
def test_get_ca_certs_order_when_nothing_is_looked_up(pki, case):
    """A handshake that never consults the store (a server that neither
    verifies a client nor completes its chain from the store; a PSK
    handshake; a handshake refused before any certificate) leaves the order
    get_ca_certs reports as it was, as in the stdlib."""
    if case == "psk only" and not STDLIB_DIFFERENCES["psk"]:
        pytest.skip("the stdlib's ssl has PSK callbacks from 3.13 only")

    def run(mod):
        if case == "server sends a full chain":
            used = plain_server(mod, pki.files["under_inter"])   # leaf + intermediate
            used.load_verify_locations(pki.many_cas)
            contexts = (plain_client(ssl, pki.cafile), used)
        elif case == "psk only":
            used = psk_scenario("TLSv1_2")(mod, "client")
            used.load_verify_locations(pki.many_cas)
            contexts = (used, psk_scenario("TLSv1_2")(tlsctx, "server"))
        else:
            used = plain_client(mod, pki.many_cas)
            used.minimum_version = mod.TLSVersion.TLSv1_3
            server = plain_server(ssl, pki.files["good"])
            server.maximum_version = ssl.TLSVersion.TLSv1_2
            contexts = (used, server)
        before = used.get_ca_certs()
        box = handshake(*contexts, hostname=None if case == "psk only" else "localhost")
        return box["client"][0], box["server"][0], before, used.get_ca_certs()

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    assert mine[2] == mine[3]
    assert mine[:2] == (("raise", "raise") if case == "handshake refused" else ("ok", "ok"))


@pytest.mark.same_openssl  # the linked OpenSSL's own errors and store order
def test_sni_switch_to_a_verifying_context(pki):
    """The SNI callback moves the connection to another context, whose store
    the client certificate is then verified with: that store is sorted as the
    stdlib's is; the first context's, and another context with the same
    trust, are not touched."""
    def run(mod):
        def verifying():
            ctx = plain_server(mod, pki.files["other_name"])
            ctx.verify_mode = mod.CERT_REQUIRED
            ctx.load_verify_locations(pki.many_cas)
            return ctx

        target, bystander = verifying(), verifying()

        def callback(sslobj, name, context):
            sslobj.context = target

        front = sni_server(mod, pki, callback)
        front.verify_mode = mod.CERT_REQUIRED   # the SSL keeps the first context's mode
        front.load_verify_locations(pki.many_cas)
        client = plain_client(ssl, pki.cafile)
        client.load_cert_chain(pki.files["client"])
        before = target.get_ca_certs()
        box = handshake(client, front, hostname="other.example", server_info=peer_subject)
        return (box["client"], box["server"], before, target.get_ca_certs(),
                front.get_ca_certs(), bystander.get_ca_certs())

    mine, theirs = run(tlsctx), run(ssl)
    assert mine == theirs
    assert mine[1] == ("ok", "CN=client.example")
    assert mine[2] != mine[3] and mine[4] == mine[5] == mine[2]
