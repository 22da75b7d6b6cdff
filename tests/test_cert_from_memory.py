"""load_cert_chain(certdata=..., keydata=...): certificate chains and private
keys from memory (issue 10, section 3).

The stdlib has no in-memory route, so each memory load is compared with the
file route on the same bytes: the stdlib's and tlsctx's load_cert_chain on
files must agree (outcome), and tlsctx's memory load must leave the same
certificate, chain and key in the context as tlsctx's file load (state, read
through the private _loaded_chain() hook), or fail exactly as the file route
fails on those bytes.

At the end, servers (and a client) loaded from memory complete handshakes
with verifying tlsctx and stdlib clients, and match the file route's.
"""
import gc
import ssl

import pytest
import trustme
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import tlsctx
from helpers import outcome

PASSWORD = "pässword"  # non-ASCII on purpose: str passwords are UTF-8
PASSWORD_FORMS = {
    "str": PASSWORD,
    "bytes": PASSWORD.encode(),
    "bytearray": bytearray(PASSWORD.encode()),
    "callable-str": lambda: PASSWORD,
    "callable-bytes": lambda: PASSWORD.encode(),
    "callable-bytearray": lambda: bytearray(PASSWORD.encode()),
}


class Identity:
    """A leaf with its chain and its key in every encoding we accept."""

    def __init__(self, ca, key_type, directory):
        leaf = ca.issue_cert("localhost", key_type=key_type)
        self.chain_pem = b"".join(p.bytes() for p in leaf.cert_chain_pems)
        self.leaf_pem = leaf.cert_chain_pems[0].bytes()
        key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
        self.leaf_der = ssl.PEM_cert_to_DER_cert(self.leaf_pem.decode())
        enc = ser.BestAvailableEncryption(PASSWORD.encode())
        none = ser.NoEncryption()
        self.keys = {
            "pem-pkcs8": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, none),
            "pem-traditional": key.private_bytes(ser.Encoding.PEM,
                                                 ser.PrivateFormat.TraditionalOpenSSL, none),
            "der-pkcs8": key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, none),
            "der-traditional": key.private_bytes(ser.Encoding.DER,
                                                 ser.PrivateFormat.TraditionalOpenSSL, none),
        }
        self.encrypted_keys = {
            "pem-pkcs8": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, enc),
            "pem-traditional": key.private_bytes(ser.Encoding.PEM,
                                                 ser.PrivateFormat.TraditionalOpenSSL, enc),
            "der-pkcs8": key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, enc),
        }
        self.dir = directory
        self.chain_file = self.write("chain.pem", self.chain_pem)
        self.leaf_file = self.write("leaf.pem", self.leaf_pem)
        self.key_file = self.write("key.pem", self.keys["pem-pkcs8"])
        self.combined_file = self.write("combined.pem", self.keys["pem-pkcs8"] + self.chain_pem)

    def write(self, name, data):
        path = self.dir / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module", params=["rsa", "ecdsa"])
def ident(request, ca, tmp_path_factory):
    key_type = trustme.KeyType.RSA if request.param == "rsa" else trustme.KeyType.ECDSA
    return Identity(ca, key_type, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def other(ca, tmp_path_factory):
    return Identity(ca, trustme.KeyType.RSA, tmp_path_factory.mktemp("other"))


def server():
    return tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)


def std_server():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)


def from_file(*args, **kwargs):
    """tlsctx's file route; the stdlib must agree with it on the outcome."""
    mine = server()
    result = outcome(mine.load_cert_chain, *args, **kwargs)
    assert result == outcome(std_server().load_cert_chain, *args, **kwargs)
    return result, mine._loaded_chain()


def from_memory(**kwargs):
    mine = server()
    return outcome(mine.load_cert_chain, **kwargs), mine._loaded_chain()


# ---- every accepted form loads what the file route loads -------------------------

@pytest.mark.parametrize("form", ["str", "bytes", "bytearray", "memoryview"])
def test_pem_chain_and_separate_key(ident, form):
    convert = {"str": bytes.decode, "bytes": bytes, "bytearray": bytearray,
               "memoryview": memoryview}[form]
    expected = from_file(ident.chain_file, ident.key_file)
    assert expected[0] == (("ok", None), [])
    got = from_memory(certdata=convert(ident.chain_pem), keydata=convert(ident.keys["pem-pkcs8"]))
    assert got == expected
    leaf, chain, _ = got[1]
    assert leaf == ident.leaf_der and len(chain) == len(ident.chain_pem.split(b"-----END")) - 2


@pytest.mark.parametrize("form", ["str", "bytes"])
def test_combined_pem_takes_the_key_from_certdata(ident, form):
    combined = ident.keys["pem-pkcs8"] + ident.chain_pem
    expected = from_file(ident.combined_file)
    assert expected[0] == (("ok", None), [])
    data = combined.decode() if form == "str" else combined
    assert from_memory(certdata=data) == expected


@pytest.mark.parametrize("encoding", ["pem-pkcs8", "pem-traditional", "der-pkcs8",
                                      "der-traditional"])
def test_every_plain_key_encoding(ident, encoding):
    expected = from_file(ident.leaf_file, ident.key_file)
    assert from_memory(certdata=ident.leaf_pem, keydata=ident.keys[encoding]) == expected


def test_der_certificate_and_der_key(ident):
    expected = from_file(ident.leaf_file, ident.key_file)
    got = from_memory(certdata=ident.leaf_der, keydata=ident.keys["der-pkcs8"])
    assert got == expected
    assert got[1][1] == []  # a DER certificate comes alone


@pytest.mark.parametrize("encoding", ["pem-pkcs8", "pem-traditional", "der-pkcs8"])
@pytest.mark.parametrize("form", sorted(PASSWORD_FORMS))
def test_encrypted_key_with_each_password_form(ident, encoding, form):
    password = PASSWORD_FORMS[form]
    expected = from_file(ident.chain_file, ident.key_file)
    if encoding.startswith("pem"):
        # the stdlib reads the same encrypted file with the same password
        key_file = ident.write("enc-%s.pem" % encoding, ident.encrypted_keys[encoding])
        assert from_file(ident.chain_file, key_file, password) == expected
    got = from_memory(certdata=ident.chain_pem, keydata=ident.encrypted_keys[encoding],
                      password=password)
    assert got == expected


def test_password_callable_runs_python_while_loading(ident):
    calls = []

    def password():
        calls.append(gc.isenabled())  # any Python code: the GIL is held here
        return PASSWORD

    ctx = server()
    ctx.load_cert_chain(certdata=ident.chain_pem, keydata=ident.encrypted_keys["der-pkcs8"],
                        password=password)
    assert calls and ctx._loaded_chain()[0] == ident.leaf_der


# ---- failures are the file route's failures ------------------------------------

BAD_DATA = {
    "garbage": b"this is not a certificate",
    "empty": b"",
    "truncated-pem": None,  # filled from the identity
    "der-looking-garbage": b"\x30\x82\x01\x00" + b"\x00" * 16,
    "pem-header-only": b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
}


@pytest.mark.parametrize("name", sorted(BAD_DATA))
def test_bad_certdata_fails_as_the_same_file(ident, name, tmp_path):
    data = BAD_DATA[name] if BAD_DATA[name] is not None else ident.chain_pem[:200]
    path = tmp_path / "bad.pem"
    path.write_bytes(data)
    expected = from_file(str(path), ident.key_file)
    assert expected[0][0][0] == "raise"
    assert from_memory(certdata=data, keydata=ident.keys["pem-pkcs8"]) == expected


@pytest.mark.parametrize("name", sorted(BAD_DATA))
def test_bad_keydata_fails_as_the_same_file(ident, name, tmp_path):
    data = BAD_DATA[name] if BAD_DATA[name] is not None else ident.keys["pem-pkcs8"][:100]
    path = tmp_path / "badkey.pem"
    path.write_bytes(data)
    expected = from_file(ident.chain_file, str(path))
    assert expected[0][0][0] == "raise"
    assert from_memory(certdata=ident.chain_pem, keydata=data) == expected


def test_certdata_without_a_key_fails_as_a_file_without_one(ident):
    expected = from_file(ident.chain_file)
    assert expected[0][0][0] == "raise"
    assert from_memory(certdata=ident.chain_pem) == expected
    assert from_memory(certdata=ident.leaf_der)[0] == expected[0]


def test_key_that_does_not_match(ident, other):
    expected = from_file(ident.chain_file, other.key_file)
    assert expected[0][0][:2] == ("raise", "SSLError")
    assert from_memory(certdata=ident.chain_pem, keydata=other.keys["pem-pkcs8"]) == expected
    assert from_memory(certdata=ident.chain_pem, keydata=other.keys["der-pkcs8"]) == expected


def _raise():
    raise ZeroDivisionError("from the password callback")


PASSWORD_FAILURES = {
    "wrong": "not the password",
    "wrong-callable": lambda: "not the password",
    "raises": _raise,
    "returns-int": lambda: 42,
    "bad-type": 42,
    "memoryview": memoryview(b"x"),
    "too-long": "x" * 1025,
    "too-long-callable": lambda: b"x" * 1025,
}


@pytest.mark.parametrize("name", sorted(PASSWORD_FAILURES))
def test_password_failures_as_for_files(ident, name):
    password = PASSWORD_FAILURES[name]
    key_file = ident.write("enc.pem", ident.encrypted_keys["pem-pkcs8"])
    expected = from_file(ident.chain_file, key_file, password)
    assert expected[0][0][0] == "raise"
    got = from_memory(certdata=ident.chain_pem, keydata=ident.encrypted_keys["pem-pkcs8"],
                      password=password)
    assert got == expected


@pytest.mark.parametrize("name", ["raises", "returns-int", "bad-type", "too-long-callable"])
def test_password_failures_with_der_keys(ident, name):
    """DER has no file twin; the same Python errors come out of the password."""
    password = PASSWORD_FAILURES[name]
    pem = from_memory(certdata=ident.chain_pem, keydata=ident.encrypted_keys["pem-pkcs8"],
                      password=password)
    der = from_memory(certdata=ident.chain_pem, keydata=ident.encrypted_keys["der-pkcs8"],
                      password=password)
    assert der == pem and der[0][0][0] == "raise"


@pytest.fixture(scope="module")
def weak(tmp_path_factory):
    """A self-signed certificate on a 1024-bit RSA key: below security level 2."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("weak")
    cert_pem = cert.public_bytes(ser.Encoding.PEM)
    key_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    (d / "cert.pem").write_bytes(cert_pem)
    (d / "key.pem").write_bytes(key_pem)
    return str(d / "cert.pem"), str(d / "key.pem"), cert_pem, key_pem


@pytest.mark.parametrize("ciphers", [None, "DEFAULT:@SECLEVEL=0"])
def test_security_level_applies_to_memory_loads(weak, ciphers):
    """The context's security level decides, on both routes, as in the stdlib."""
    cert_file, key_file, cert_pem, key_pem = weak
    mine, theirs, memory = server(), std_server(), server()
    if ciphers:
        for ctx in (mine, theirs, memory):
            ctx.set_ciphers(ciphers)
    expected = outcome(theirs.load_cert_chain, cert_file, key_file)
    assert outcome(mine.load_cert_chain, cert_file, key_file) == expected
    assert outcome(memory.load_cert_chain, certdata=cert_pem, keydata=key_pem) == expected
    assert expected[0][0] == ("ok" if ciphers else "raise")
    assert memory._loaded_chain() == mine._loaded_chain()


# ---- arguments -------------------------------------------------------------------

ARGUMENT_ERRORS = [
    ({}, "load_cert_chain() missing required argument: certfile or certdata"),
    ({"certfile": "x.pem", "certdata": b"x"}, "takes certfile or certdata, not both"),
    ({"keydata": b"x"}, "takes keydata only with certdata"),
    ({"certfile": "x.pem", "keydata": b"x"}, "takes keydata only with certdata"),
    ({"certdata": b"x", "keyfile": "k.pem"}, "takes keydata, not keyfile, with certdata"),
    ({"certdata": 42}, "certdata should be an ASCII string or a bytes-like object"),
    ({"certdata": "\u00e9"}, "certdata should be an ASCII string or a bytes-like object"),
    ({"certdata": b"x", "keydata": 4.2},
     "keydata should be an ASCII string or a bytes-like object"),
]


@pytest.mark.parametrize("kwargs,message", ARGUMENT_ERRORS)
def test_argument_errors(kwargs, message):
    with pytest.raises(TypeError) as info:
        server().load_cert_chain(**kwargs)
    assert message in str(info.value)


def test_certdata_is_keyword_only(ident):
    with pytest.raises(TypeError):
        server().load_cert_chain(None, None, None, ident.chain_pem)


# ---- a failed load changes nothing ---------------------------------------------

def test_failure_leaves_the_loaded_chain_alone(ident, other):
    ctx = server()
    ctx.load_cert_chain(certdata=ident.chain_pem, keydata=ident.keys["pem-pkcs8"])
    before = ctx._loaded_chain()
    attempts = [
        dict(certdata=other.chain_pem, keydata=ident.keys["pem-pkcs8"]),   # mismatch
        dict(certdata=other.chain_pem, keydata=b"garbage"),
        dict(certdata=other.chain_pem, keydata=other.encrypted_keys["pem-pkcs8"],
             password="wrong"),
        dict(certfile=other.chain_file, keyfile=ident.key_file),           # files too
        dict(certfile=other.chain_file, keyfile=str(other.dir / "missing.pem")),
    ]
    for kwargs in attempts:
        with pytest.raises((tlsctx.SSLError, OSError)):
            ctx.load_cert_chain(**kwargs)
        assert ctx._loaded_chain() == before
    ctx.load_cert_chain(certdata=other.chain_pem, keydata=other.keys["der-traditional"])
    assert ctx._loaded_chain()[0] == other.leaf_der


# ---- a server loaded from memory serves a verifying client -----------------------

def handshake(server_ctx, client_ctx):
    """A full handshake over memory BIOs (client may be tlsctx's or the stdlib's);
    returns what each side saw."""
    lib = tlsctx if isinstance(client_ctx, tlsctx.SSLContext) else ssl
    c_in, c_out = lib.MemoryBIO(), lib.MemoryBIO()
    s_in, s_out = tlsctx.MemoryBIO(), tlsctx.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    srv = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {client: False, srv: False}
    for _ in range(20):
        for end in (client, srv):
            if not done[end]:
                try:
                    end.do_handshake()
                    done[end] = True
                except (ssl.SSLWantReadError, tlsctx.SSLWantReadError):
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), "handshake did not finish"
    client.write(b"ping")
    s_in.write(c_out.read())
    assert srv.read(4) == b"ping"
    return {"peer": client.getpeercert(True), "peer_dict": client.getpeercert(),
            "version": client.version(), "cipher": client.cipher()[0],
            "chain": client.get_unverified_chain() if hasattr(client, "get_unverified_chain")
            else None}


def verifying_clients(ca):
    mine = tlsctx.create_default_context(cadata=ca.cert_pem.bytes().decode())
    theirs = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    return mine, theirs


MEMORY_ROUTES = {
    "pem-chain+key": lambda i: dict(certdata=i.chain_pem, keydata=i.keys["pem-pkcs8"]),
    "combined-pem": lambda i: dict(certdata=i.keys["pem-pkcs8"] + i.chain_pem),
    "combined-pem-str": lambda i: dict(certdata=(i.keys["pem-pkcs8"] + i.chain_pem).decode()),
    "der-cert+der-key": lambda i: dict(certdata=i.leaf_der, keydata=i.keys["der-pkcs8"]),
    "der-cert+traditional-der-key": lambda i: dict(certdata=i.leaf_der,
                                                   keydata=i.keys["der-traditional"]),
}


@pytest.mark.parametrize("route", sorted(MEMORY_ROUTES))
def test_memory_loaded_server_completes_a_verified_handshake(ca, ident, route):
    from_mem = server()
    from_mem.load_cert_chain(**MEMORY_ROUTES[route](ident))
    from_disk = server()
    keyfile = ident.key_file
    from_disk.load_cert_chain(ident.leaf_file if route.startswith("der") else ident.chain_file,
                              keyfile)
    for client in verifying_clients(ca):
        got = handshake(from_mem, client)
        assert got["peer"] == ident.leaf_der
        assert got["peer_dict"]["subjectAltName"] == (("DNS", "localhost"),)
        # the same files through the classic route give the same handshake
        assert got == handshake(from_disk, client)


@pytest.mark.parametrize("encoding", ["pem-pkcs8", "pem-traditional", "der-pkcs8"])
@pytest.mark.parametrize("form", sorted(PASSWORD_FORMS))
def test_encrypted_memory_key_serves_a_verified_handshake(ca, ident, encoding, form):
    ctx = server()
    ctx.load_cert_chain(certdata=ident.chain_pem, keydata=ident.encrypted_keys[encoding],
                        password=PASSWORD_FORMS[form])
    for client in verifying_clients(ca):
        assert handshake(ctx, client)["peer"] == ident.leaf_der


def test_client_certificate_from_memory(ca, ident):
    """Mutual TLS with the client's own chain and key given from memory."""
    srv = server()
    srv.load_cert_chain(ident.chain_file, ident.key_file)
    srv.verify_mode = tlsctx.CERT_REQUIRED
    srv.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    client = verifying_clients(ca)[0]
    client.load_cert_chain(certdata=ident.chain_pem, keydata=ident.keys["der-pkcs8"])
    handshake(srv, client)


def test_untrusted_memory_chain_is_rejected(ident):
    """A client that does not trust the CA refuses the memory-loaded server, as
    it refuses the file-loaded one."""
    ctx = server()
    ctx.load_cert_chain(certdata=ident.chain_pem, keydata=ident.keys["pem-pkcs8"])
    client = tlsctx.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
    with pytest.raises(tlsctx.SSLCertVerificationError) as info:
        handshake(ctx, client)
    assert info.value.verify_message == "unable to get local issuer certificate"
