"""What the newest CPython refuses when it verifies a peer, refused by tlsctx
on every interpreter.

CPython 3.14/3.15 (gh-160040) reject a chain holding a certificate whose
public key is on _ssl's list of distrusted keys, with verify_code 28
(X509_V_ERR_CERT_REJECTED).  The keys are compromised CA keys, so no
certificate they sign can be made here: the chains come from CPython's own
fixture (test/certdata/distrusted.zip, a leaf signed by the eMudhra
intermediate "EM OV TLS CA - G3C"), found in the running interpreter's test
package or in a Debian chroot of tools/chroot.sh, and from certificates made
at test time around it (the same key cross-signed by a fresh root).

Each scenario runs against the running stdlib on the same input.  Where that
stdlib predates the rule (DOCUMENTED_DIFFERENCES["distrusted_spki"]), it
accepts what tlsctx refuses, and tlsctx is held to CPython 3.15's recorded
verdict instead.
"""
import datetime
import glob
import os
import ssl
import zipfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import tlsctx
from test_parity import differs_here

# CPython's test_ssl names the fixture's password and says it is no secret.
FIXTURE_PASSWORD = b"Brave Sir Robin"
CHROOTS = os.environ.get("TLSCTX_CHROOTS", "/var/tmp/tlsctx-chroots")

# CPython 3.15.2's verdicts (OpenSSL 3.6), as the verifying side reports them:
# (exception class, verify_code, verify_message), or "ok".
REJECTED = ("SSLCertVerificationError", 28, "certificate rejected")
RECORDED_315 = {
    "root-anchored chain": REJECTED,
    "wrong host name": ("SSLCertVerificationError", 62,
                        "Hostname mismatch, certificate is not valid for 'wrong.example'."),
    "no verification": "ok",
    "distrusted key as trust anchor": REJECTED,
    "distrusted key cross-signed by another root": REJECTED,
    "client certificate": REJECTED,
}

STDLIB_HAS_RULE = not differs_here("distrusted_spki")



def validity():
    """A window that holds now: from yesterday for thirty days."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)


def self_signed_ca(name, key):
    """A self-signed CA certificate for `name` and `key`, valid now."""
    start, end = validity()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))

def find_fixture():
    candidates = [os.path.join(os.path.dirname(ssl.__file__), "test", "certdata",
                               "distrusted.zip")]
    candidates += sorted(glob.glob(os.path.join(
        CHROOTS, "*", "usr", "lib", "python3*", "test", "certdata", "distrusted.zip")))
    for path in candidates:
        if os.path.exists(path):
            return path
    return None


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The fixture's PEM files, plus a cross-signed copy of the distrusted key."""
    path = find_fixture()
    if path is None:
        pytest.skip("CPython's test/certdata/distrusted.zip is neither in this "
                    "interpreter's test package nor in a chroot under %s" % CHROOTS)
    where = tmp_path_factory.mktemp("distrusted")
    with zipfile.ZipFile(path) as z:
        z.extractall(where, pwd=FIXTURE_PASSWORD)
    d = where / "distrusted"
    files = {name: str(d / ("distrusted_%s.pem" % name))
             for name in ("root", "intermediate", "keycert")}
    files.update(cross_signed(d, where))
    return files


def cross_signed(d, where):
    """A fresh root key, and a certificate it issues for the distrusted
    intermediate's key: the fixture's leaf chains through it.  The leaf's
    authority key identifier names its issuer's issuer and serial number, so
    the new root carries the eMudhra root's name (not its key) and the new
    certificate the intermediate's serial number."""
    inter = x509.load_pem_x509_certificate((d / "distrusted_intermediate.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = inter.issuer
    start, end = validity()
    root = self_signed_ca(name, key)
    ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cross = (x509.CertificateBuilder().subject_name(inter.subject).issuer_name(name)
             .public_key(inter.public_key()).serial_number(inter.serial_number)
             .not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), critical=True)
             .add_extension(ski, critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 key.public_key()), critical=False)
             .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    root_path, served_path = where / "cross_root.pem", where / "cross_keycert.pem"
    root_path.write_bytes(root.public_bytes(pem))
    # the fixture's leaf and key, then the cross-signed certificate
    keycert = (d / "distrusted_keycert.pem").read_bytes()
    leaf_and_key = keycert[:keycert.index(b"-----BEGIN CERTIFICATE-----",
                                          keycert.index(b"-----END CERTIFICATE-----"))]
    served_path.write_bytes(leaf_and_key + cross.public_bytes(pem))
    return {"cross_root": str(root_path), "cross_keycert": str(served_path)}


def verdict(exc):
    if exc is None:
        return "ok"
    return (type(exc).__name__, getattr(exc, "verify_code", None),
            getattr(exc, "verify_message", None))


def handshake(client_ctx, server_ctx, hostname="localhost"):
    """Both sides over memory BIOs: each side's exception (or None)."""
    cin, cout, sin, sout = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(cin, cout, server_hostname=hostname)
    server = server_ctx.wrap_bio(sin, sout, server_side=True)
    errors = {"client": None, "server": None}
    for _ in range(20):
        for side, obj in (("client", client), ("server", server)):
            if errors[side] is not None:
                continue
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                errors[side] = exc
        moved = cout.pending or sout.pending
        sin.write(cout.read())
        cin.write(sout.read())
        if not moved:
            break
    return errors


def scenario(name, mod, files):
    """(the verifying side's exception, the other side's), the verifier from
    `mod`, its peer always the stdlib's."""
    client_mod, server_mod = (ssl, mod) if name == "client certificate" else (mod, ssl)
    cctx = client_mod.SSLContext(client_mod.PROTOCOL_TLS_CLIENT)
    sctx = server_mod.SSLContext(server_mod.PROTOCOL_TLS_SERVER)
    hostname = "localhost"
    if name == "client certificate":
        sctx.verify_mode = server_mod.CERT_REQUIRED
        sctx.load_verify_locations(files["root"])
        sctx.load_cert_chain(files["keycert"])
        cctx.check_hostname = False
        cctx.verify_mode = client_mod.CERT_NONE
        cctx.load_cert_chain(files["keycert"])
    elif name == "distrusted key cross-signed by another root":
        cctx.load_verify_locations(files["cross_root"])
        sctx.load_cert_chain(files["cross_keycert"])
    else:
        sctx.load_cert_chain(files["keycert"])
        if name == "distrusted key as trust anchor":
            cctx.verify_flags |= client_mod.VERIFY_X509_PARTIAL_CHAIN
            cctx.load_verify_locations(files["intermediate"])
        else:
            cctx.load_verify_locations(files["root"])
        if name == "wrong host name":
            hostname = "wrong.example"
        if name == "no verification":
            cctx.check_hostname = False
            cctx.verify_mode = client_mod.CERT_NONE
    errors = handshake(cctx, sctx, hostname)
    if name == "client certificate":
        return errors["server"], errors["client"]
    return errors["client"], errors["server"]


def other_side(exc):
    if exc is None:
        return "ok"
    return (type(exc).__name__, exc.library, exc.reason)


@pytest.mark.parametrize("name", list(RECORDED_315))
def test_distrusted_key(chain, name):
    mine_verifier, mine_peer = scenario(name, tlsctx, chain)
    theirs_verifier, theirs_peer = scenario(name, ssl, chain)
    assert verdict(mine_verifier) == RECORDED_315[name]
    if STDLIB_HAS_RULE:
        assert verdict(mine_verifier) == verdict(theirs_verifier)
        if mine_verifier is not None:
            assert str(mine_verifier).split(" (")[0] == str(theirs_verifier).split(" (")[0]
        assert other_side(mine_peer) == other_side(theirs_peer)
    elif RECORDED_315[name] == REJECTED:
        # the documented difference: this stdlib accepts the chain
        assert verdict(theirs_verifier) == "ok"
    else:
        assert verdict(mine_verifier) == verdict(theirs_verifier)


def test_fixture_key_is_the_listed_one(chain):
    """The fixture's intermediate is the key the rule names: its SHA-256 SPKI
    hash is the one tlsctx lists (so the test above exercises the list)."""
    with open(chain["intermediate"], "rb") as f:
        inter = x509.load_pem_x509_certificate(f.read())
    spki = inter.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    assert digest.finalize().hex() == (
        "63ecefee431d49523bc1136c4e72d0206a477086caf606cd5cf025686c109cf8")


def test_ordinary_chains_still_verify(tmp_path):
    """The callback does not touch chains without a listed key: a trustme
    chain verifies alike with both libraries, intermediate included."""
    import trustme
    ca = trustme.CA()
    inter = ca.create_child_ca()
    leaf = inter.issue_cert("localhost")
    served = tmp_path / "served.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(served))
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    for mod in (tlsctx, ssl):
        cctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(str(cafile))
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(str(served))
        assert handshake(cctx, sctx) == {"client": None, "server": None}, mod.__name__



def leaf_without_aki(where):
    """A CA and a leaf for localhost that lacks the authority key identifier
    RFC 5280 requires (x509-limbo's rfc5280::aki::leaf-missing-aki)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "tlsctx test AKI CA")])
    start, end = validity()
    ca = self_signed_ca(ca_name, ca_key)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path, served = where / "aki-ca.pem", where / "aki-leaf.pem"
    ca_path.write_bytes(ca.public_bytes(pem))
    served.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                       + leaf.public_bytes(pem))
    return str(ca_path), str(served)


@pytest.mark.parametrize("strict", [True, False])
def test_leaf_missing_aki(tmp_path, strict):
    """create_default_context() verifies with VERIFY_X509_STRICT (3.13+), so
    OpenSSL refuses a leaf without an authority key identifier; clearing the
    flag accepts it.  Before 3.13 the stdlib's default context lacks the
    flag (DOCUMENTED_DIFFERENCES["create_default_context.verify_flags"])."""
    cafile, served = leaf_without_aki(tmp_path)

    def verdict_of(mod, clear):
        cctx = mod.create_default_context(cafile=cafile)
        if clear:
            cctx.verify_flags &= ~mod.VERIFY_X509_STRICT
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(served)
        return verdict(handshake(cctx, sctx)["client"])

    mine = verdict_of(tlsctx, not strict)
    if strict:
        assert mine == ("SSLCertVerificationError", 85, "Missing Authority Key Identifier")
    else:
        assert mine == "ok"
    if differs_here("create_default_context.verify_flags"):
        assert verdict_of(ssl, False) == "ok"
    else:
        assert verdict_of(ssl, not strict) == mine
