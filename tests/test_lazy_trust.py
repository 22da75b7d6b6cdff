"""Lazy trust (issue 16): bundles indexed by subject name and decoded when a
verification first asks for a name must verify exactly as the stdlib does.

Every case builds its certificates at test time, loads the same bundle into
a tlsctx context (lazily, and with the lazy path switched off) and into an
ssl context, as a file and as cadata, and runs real handshakes over memory
BIOs against the same stdlib server. Compared, before and after handshakes:
success or failure, verify_code and verify_message, the verified chain, and
cert_store_stats() / get_ca_certs() (asking for those moves a lazy context
to fully decoded stores, so some runs ask only after the handshakes)."""
import datetime
import ssl
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.serialization import NoEncryption
from cryptography.hazmat.primitives.serialization import PrivateFormat
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

import tlsctx
from helpers import SAME_OPENSSL
from helpers import strip_location

_T = tlsctx._tlsctx
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
PEM = Encoding.PEM


def name(cn, kind=None):
    if kind is None:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=kind)])


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(subject, key, issuer=None, issuer_key=None, ca=True, start=None, end=None,
              serial=None, san=None, aki=True):
    """A certificate for `key` named `subject`, signed by `issuer_key` under
    `issuer`'s name (self-signed without them)."""
    issuer = subject if issuer is None else issuer
    issuer_key = key if issuer_key is None else issuer_key
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(start or NOW - DAY).not_valid_after(end or NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san or "localhost")]), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_crl(issuer_cert, issuer_key, revoked=()):
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer_cert.subject)
               .last_update(NOW - DAY).next_update(NOW + 30 * DAY)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), critical=False)
               .add_extension(x509.CRLNumber(1), critical=False))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(NOW - DAY).build())
    return builder.sign(issuer_key, hashes.SHA256())


def pem_of(items):
    return b"".join(item.public_bytes(PEM) for item in items)


# ---- the cases: (bundle items, served chain, leaf key, verify flags to add) ----

def case_simple():
    rk, lk = new_key(), new_key()
    root = make_cert(name("Lazy Root"), rk)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    return [root], [leaf], lk, 0


def case_missing_root():
    rk, lk, ok = new_key(), new_key(), new_key()
    root = make_cert(name("Lazy Root"), rk)
    other = make_cert(name("Other Root"), ok)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    return [other], [leaf], lk, 0


def _cross_signed():
    """An intermediate key certified by root A and cross-signed by root B."""
    ak, bk, ik, lk = new_key(), new_key(), new_key(), new_key()
    a = make_cert(name("Root A"), ak)
    b = make_cert(name("Root B"), bk)
    i_by_a = make_cert(name("Intermediate"), ik, a.subject, ak)
    i_by_b = make_cert(name("Intermediate"), ik, b.subject, bk)
    leaf = make_cert(name("leaf"), lk, i_by_a.subject, ik, ca=False)
    return a, b, i_by_a, i_by_b, leaf, lk


def case_cross_both_roots():
    a, b, i_by_a, i_by_b, leaf, lk = _cross_signed()
    return [b, a, i_by_b], [leaf, i_by_a], lk, 0


def case_cross_other_root_only():
    a, b, i_by_a, i_by_b, leaf, lk = _cross_signed()
    return [b, i_by_b], [leaf, i_by_a], lk, 0


def case_cross_no_trusted_first():
    a, b, i_by_a, i_by_b, leaf, lk = _cross_signed()
    return [b, i_by_b, a], [leaf, i_by_a], lk, -ssl.VERIFY_X509_TRUSTED_FIRST


def case_same_subject_keys():
    k1, k2, lk = new_key(), new_key(), new_key()
    r1 = make_cert(name("Shared Name"), k1)
    r2 = make_cert(name("Shared Name"), k2)
    leaf = make_cert(name("leaf"), lk, r2.subject, k2, ca=False)
    return [r1, r2], [leaf], lk, 0


def case_same_subject_keys_reversed():
    roots, chain, lk, flags = case_same_subject_keys()
    return roots[::-1], chain, lk, flags


def case_expired_and_valid_root():
    rk, lk = new_key(), new_key()
    expired = make_cert(name("Aging Root"), rk, start=NOW - 400 * DAY, end=NOW - 10 * DAY)
    valid = make_cert(name("Aging Root"), rk)
    leaf = make_cert(name("leaf"), lk, valid.subject, rk, ca=False)
    return [expired, valid], [leaf], lk, 0


def case_valid_and_expired_root():
    roots, chain, lk, flags = case_expired_and_valid_root()
    return roots[::-1], chain, lk, flags


def case_only_expired_root():
    roots, chain, lk, flags = case_expired_and_valid_root()
    return roots[:1], chain, lk, flags


def case_partial_chain_leaf():
    rk, lk = new_key(), new_key()
    root = make_cert(name("Absent Root"), rk)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    return [leaf], [leaf], lk, ssl.VERIFY_X509_PARTIAL_CHAIN


def case_leaf_without_partial_chain():
    bundle, chain, lk, flags = case_partial_chain_leaf()
    return bundle, chain, lk, 0


def case_trusted_first_intermediate():
    rk, ik, lk = new_key(), new_key(), new_key()
    root = make_cert(name("Root T"), rk)
    inter = make_cert(name("Intermediate T"), ik, root.subject, rk)
    leaf = make_cert(name("leaf"), lk, inter.subject, ik, ca=False)
    return [root, inter], [leaf, inter], lk, 0


def case_intermediate_only_partial():
    rk, ik, lk = new_key(), new_key(), new_key()
    root = make_cert(name("Root P"), rk)
    inter = make_cert(name("Intermediate P"), ik, root.subject, rk)
    leaf = make_cert(name("leaf"), lk, inter.subject, ik, ca=False)
    return [inter], [leaf, inter], lk, ssl.VERIFY_X509_PARTIAL_CHAIN


def _crl_case(revoke):
    rk, lk = new_key(), new_key()
    root = make_cert(name("CRL Root"), rk)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    crl = make_crl(root, rk, [leaf] if revoke else [])
    return [root, crl], [leaf], lk, ssl.VERIFY_CRL_CHECK_LEAF


def case_crl_revoked():
    return _crl_case(True)


def case_crl_not_revoked():
    return _crl_case(False)


def case_crl_missing():
    bundle, chain, lk, flags = _crl_case(False)
    return bundle[:1], chain, lk, flags


def case_name_string_type_and_case():
    rk, lk = new_key(), new_key()
    root = make_cert(name("Mixed Case Root", _ASN1Type.UTF8String), rk)
    leaf = make_cert(name("leaf"), lk, name("MIXED  case root", _ASN1Type.PrintableString), rk,
                     ca=False)
    return [root], [leaf], lk, 0


def case_thousand_roots_right_one_last():
    filler_key, rk, lk = new_key(), new_key(), new_key()
    roots = [make_cert(name("Filler %04d" % i), filler_key) for i in range(1000)]
    root = make_cert(name("The Right Root"), rk)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    return roots + [root], [leaf], lk, 0


def case_duplicates():
    rk, lk = new_key(), new_key()
    root = make_cert(name("Repeated Root"), rk)
    leaf = make_cert(name("leaf"), lk, root.subject, rk, ca=False)
    return [root, root, root], [leaf], lk, 0


CASES = {f.__name__[5:]: f for f in list(globals().values())
         if callable(f) and getattr(f, "__name__", "").startswith("case_")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each case's files, made once per test module."""
    where = tmp_path_factory.mktemp("lazy")
    out = {}
    for case, make in CASES.items():
        bundle, chain, key, flags = make()
        bundle_path = where / (case + "-bundle.pem")
        bundle_path.write_bytes(pem_of(bundle))
        chain_path = where / (case + "-chain.pem")
        chain_path.write_bytes(key.private_bytes(PEM, PrivateFormat.PKCS8, NoEncryption())
                               + pem_of(chain))
        out[case] = (str(bundle_path), str(chain_path), flags)
    return out


def client_context(mod, bundle_path, source, flags):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    if flags > 0:
        ctx.verify_flags |= flags
    elif flags < 0:
        ctx.verify_flags &= ~(-flags)
    if source == "file":
        ctx.load_verify_locations(bundle_path)
    else:
        with open(bundle_path) as f:
            ctx.load_verify_locations(cadata=f.read())
    return ctx


def handshake(mod, client_ctx, server_ctx, mod_serves=False):
    """A handshake over memory BIOs, `mod`'s on the client's side (with
    mod_serves, on the server's) and the stdlib's on the other: what the
    client saw (verdict and verified chain)."""
    client_bios, server_bios = (ssl, mod) if mod_serves else (mod, ssl)
    cin, cout = client_bios.MemoryBIO(), client_bios.MemoryBIO()
    sin, sout = server_bios.MemoryBIO(), server_bios.MemoryBIO()
    client = client_ctx.wrap_bio(cin, cout, server_hostname="localhost")
    server = server_ctx.wrap_bio(sin, sout, server_side=True)
    error = None
    for _ in range(20):
        for side in (client, server):
            try:
                side.do_handshake()
            except (ssl.SSLWantReadError, mod.SSLWantReadError):
                pass
            except (ssl.SSLError, mod.SSLError) as exc:
                if side is client and error is None:
                    error = exc
        moved = cout.pending or sout.pending
        sin.write(cout.read())
        cin.write(sout.read())
        if not moved or error is not None:
            break
    if error is not None:
        return ("fail", type(error).__name__, getattr(error, "verify_code", None),
                getattr(error, "verify_message", None), strip_location(error))
    chain = None
    # the verified chain where the stdlib has it (3.13+); else the peer's
    # certificate is what both show
    if hasattr(ssl.SSLObject, "get_verified_chain"):
        chain = [bytes(c) for c in client.get_verified_chain()]
    return ("ok", client.getpeercert(True), chain)


def trust_view(ctx):
    ca = ctx.get_ca_certs(binary_form=True)
    if not SAME_OPENSSL:
        ca = sorted(ca)   # the store's order is the linked OpenSSL's
    return ctx.cert_store_stats(), ca


def run(mod, files, source, observe_first):
    bundle_path, chain_path, flags = files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain_path)
    ctx = client_context(mod, bundle_path, source, flags)
    steps = []
    state = _T._trust_state(ctx) if mod is tlsctx else None
    if observe_first:
        steps.append(trust_view(ctx))
    steps.append(handshake(mod, ctx, server_ctx))
    steps.append(trust_view(ctx))
    steps.append(handshake(mod, ctx, server_ctx))
    steps.append(trust_view(ctx))
    return state, steps


@pytest.fixture(params=["lazy", "eager"])
def lazy_mode(request):
    was = _T._set_lazy_trust(request.param == "lazy")
    _T._trust_cache_clear()
    yield request.param
    _T._set_lazy_trust(was)
    _T._trust_cache_clear()


@pytest.mark.parametrize("observe_first", [False, True], ids=["observe-after", "observe-first"])
@pytest.mark.parametrize("source", ["file", "cadata"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_as_stdlib(built, case, source, observe_first, lazy_mode):
    state, mine = run(tlsctx, built[case], source, observe_first)
    _, theirs = run(ssl, built[case], source, observe_first)
    assert mine == theirs
    assert state == ("lazy" if lazy_mode == "lazy" else "shared")


def test_default_context_with_test_ca(built, lazy_mode):
    """create_default_context() (the system bundle, lazily) plus a test CA."""
    bundle_path, chain_path, _ = built["trusted_first_intermediate"]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain_path)
    results = []
    for mod in (tlsctx, ssl):
        ctx = mod.create_default_context()
        if mod is ssl and sys.version_info < (3, 13):
            ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        first = handshake(mod, ctx, server_ctx)   # the test CA is not there yet
        ctx.load_verify_locations(bundle_path)
        if mod is tlsctx:
            assert _T._trust_state(ctx) == ("lazy" if lazy_mode == "lazy" else "private")
        results.append((first, handshake(mod, ctx, server_ctx), trust_view(ctx)))
    assert results[0] == results[1]


def test_second_load_after_lookups(built, lazy_mode):
    """A lazy context that verified, then loads more: the stdlib's answers."""
    a_path, chain_path, _ = built["simple"]
    b_path, _, _ = built["cross_both_roots"]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain_path)
    results = []
    for mod in (tlsctx, ssl):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(a_path)
        first = handshake(mod, ctx, server_ctx)
        ctx.load_verify_locations(b_path)
        ctx.verify_flags |= mod.VERIFY_X509_PARTIAL_CHAIN
        if mod is tlsctx:
            assert _T._trust_state(ctx) == ("lazy" if lazy_mode == "lazy" else "shared")
        results.append((first, handshake(mod, ctx, server_ctx), trust_view(ctx),
                        handshake(mod, ctx, server_ctx), trust_view(ctx)))
    assert results[0] == results[1]


BROKEN = {
    "truncated": lambda good: good[:len(good) // 2] + b"\n-----END CERTIFICATE-----\n",
    "not base64": lambda good: b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    "no certificate": lambda good: b"nothing here\n",
}


@pytest.mark.parametrize("how", sorted(BROKEN))
@pytest.mark.parametrize("source", ["file", "cadata"])
def test_refused_as_the_stdlib_refuses(built, tmp_path, how, source, lazy_mode):
    with open(built["simple"][0], "rb") as f:
        good = f.read()
    data = BROKEN[how](good)
    path = tmp_path / "broken.pem"
    path.write_bytes(data)
    outcomes = []
    for mod in (tlsctx, ssl):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        try:
            if source == "file":
                ctx.load_verify_locations(str(path))
            else:
                ctx.load_verify_locations(cadata=data.decode("ascii", "replace"))
            outcomes.append(("ok", trust_view(ctx)))
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome
            outcomes.append((type(exc).__name__, getattr(exc, "library", None),
                             getattr(exc, "reason", None), strip_location(exc),
                             trust_view(ctx)))
    assert outcomes[0] == outcomes[1]


def _mutants():
    """A certificate's DER with one byte changed at every position (three
    ways), as PEM: what the structural check lets through must be what the
    stdlib's full decode accepts."""
    import base64
    rk = new_key()
    root = make_cert(name("Mutant Root"), rk)
    # and one whose issuer is another name (the check decodes it apart)
    other = make_cert(name("Mutant Intermediate"), new_key(), issuer=name("Mutant Root"), issuer_key=rk)
    # and a name of every string type the load-time check reads itself, with
    # a multi-valued RDN
    rich = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org", _type=_ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "U", _type=_ASN1Type.IA5String)]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.COMMON_NAME, "T 61", _type=_ASN1Type.T61String)]),
    ])
    third = make_cert(rich, new_key(), issuer=name("Mutant Root"), issuer_key=rk)
    out = []
    for der in (root.public_bytes(Encoding.DER), other.public_bytes(Encoding.DER),
                third.public_bytes(Encoding.DER)):
        for pos in range(len(der)):
            for change in (0x01, 0x80, 0xff):
                data = bytearray(der)
                data[pos] ^= change
                body = base64.encodebytes(bytes(data))
                out.append(b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n")
    return out


def _load_outcome(mod, source, data, path):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    try:
        if source == "file":
            ctx.load_verify_locations(path)
        else:
            # (text that is not ASCII is refused by both, as a str)
            ctx.load_verify_locations(cadata=data.decode("utf-8", "surrogateescape"))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return (type(exc).__name__, getattr(exc, "library", None),
                getattr(exc, "reason", None), strip_location(exc))
    try:
        return ("ok",) + trust_view(ctx)
    except Exception as exc:  # noqa: BLE001 - a late failure is a difference
        return ("late", type(exc).__name__, strip_location(exc))


@pytest.mark.parametrize("source", ["file", "cadata"])
def test_mutated_certificates_refused_alike(tmp_path, source, lazy_mode):
    path = str(tmp_path / "mutant.pem")
    differences = []
    for i, data in enumerate(_mutants()):
        with open(path, "wb") as f:
            f.write(data)
        _T._trust_cache_clear()
        mine = _load_outcome(tlsctx, source, data, path)
        theirs = _load_outcome(ssl, source, data, path)
        if mine != theirs:
            differences.append((i, mine, theirs))
    assert differences == []


def _hashed_dir(where, certs):
    """A capath directory: each certificate under its subject hash, as
    c_rehash names it (the hash from the openssl command)."""
    import subprocess
    where.mkdir()
    for i, cert in enumerate(certs):
        path = where / ("cert%d.pem" % i)
        path.write_bytes(cert.public_bytes(PEM))
        digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(path)],
                                capture_output=True, text=True, check=True).stdout.strip()
        (where / (digest + ".0")).symlink_to(path.name)
    return str(where)


@pytest.mark.parametrize("order", ["stats-last", "flags-after-connection", "load-after-lookup"])
def test_capath_lookups_with_lazy_file(tmp_path, order, lazy_mode):
    """A lazy file and a capath: what the directory's lookup adds during a
    verification shows in the stdlib's list, and is kept across later changes."""
    ak, bk, ck, lk = new_key(), new_key(), new_key(), new_key()
    a = make_cert(name("File Root"), ak)
    b = make_cert(name("Dir Root"), bk)
    c = make_cert(name("Later Root"), ck)
    b_again = make_cert(name("Dir Root"), ck)   # same name as the directory's root
    leaf = make_cert(name("leaf"), lk, b.subject, bk, ca=False)
    a_path, c_path = tmp_path / "a.pem", tmp_path / "c.pem"
    a_path.write_bytes(pem_of([a]))
    c_path.write_bytes(pem_of([c, b_again]))
    capath = _hashed_dir(tmp_path / "hashed", [b])
    chain_path = tmp_path / "chain.pem"
    chain_path.write_bytes(lk.private_bytes(PEM, PrivateFormat.PKCS8, NoEncryption())
                           + pem_of([leaf]))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(chain_path))
    results = []
    for mod in (tlsctx, ssl):
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(str(a_path), capath)
        steps = [handshake(mod, ctx, server_ctx)]
        if order == "flags-after-connection":
            ctx.verify_flags |= mod.VERIFY_X509_PARTIAL_CHAIN
            steps.append(handshake(mod, ctx, server_ctx))
        elif order == "load-after-lookup":
            ctx.load_verify_locations(str(c_path))
            steps.append(handshake(mod, ctx, server_ctx))
        steps.append(trust_view(ctx))
        steps.append(handshake(mod, ctx, server_ctx))
        steps.append(trust_view(ctx))
        results.append(steps)
    assert results[0] == results[1]


def test_first_lookups_race(built, lazy_mode):
    """Contexts of one lazily loaded bundle (a thousand roots, the right one
    last, so one shared store and one index) handshaking on many threads at
    once: every first look-up of a name races; each verdict and chain must
    be the stdlib's."""
    import threading
    bundle_path, chain_path, flags = built["thousand_roots_right_one_last"]
    wrong_path, wrong_chain, _ = built["missing_root"]
    expected = {}
    for key, (chain, bundle) in {"right": (chain_path, bundle_path),
                                 "wrong": (wrong_chain, bundle_path)}.items():
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(chain)
        expected[key] = (server_ctx, handshake(ssl, client_context(ssl, bundle, "file", flags),
                                               server_ctx))
    _T._trust_cache_clear()
    results, errors = [], []
    start = threading.Barrier(8)

    def worker(i):
        try:
            key = "right" if i % 2 else "wrong"
            ctx = client_context(tlsctx, bundle_path, "file", flags)
            start.wait()
            for _ in range(3):
                results.append((key, handshake(tlsctx, ctx, expected[key][0])))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 24
    for key, got in results:
        assert got == expected[key][1], key


@pytest.mark.parametrize("source", ["file", "cadata"])
def test_server_builds_its_chain_from_a_lazy_store(tmp_path, source, lazy_mode):
    """A server with only its leaf completes the chain it sends from its
    trust store (OpenSSL's automatic chain building): through the lazy
    lookup it must send what the stdlib's server sends."""
    rk, ik, lk = new_key(), new_key(), new_key()
    root = make_cert(name("Chain Root"), rk)
    inter = make_cert(name("Chain Intermediate"), ik, root.subject, rk)
    leaf = make_cert(name("leaf"), lk, inter.subject, ik, ca=False)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem_of([root, inter]))
    only_root = tmp_path / "root.pem"
    only_root.write_bytes(pem_of([root]))
    keycert = tmp_path / "leaf.pem"
    keycert.write_bytes(lk.private_bytes(PEM, PrivateFormat.PKCS8, NoEncryption())
                        + pem_of([leaf]))
    seen = []
    for mod in (tlsctx, ssl):
        server_ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
        if source == "file":
            server_ctx.load_verify_locations(str(bundle))
        else:
            server_ctx.load_verify_locations(cadata=bundle.read_text())
        server_ctx.load_cert_chain(str(keycert))
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.load_verify_locations(str(only_root))
        seen.append(handshake(mod, client_ctx, server_ctx, mod_serves=True))
    assert seen[0] == seen[1]
    assert seen[0][0] == "ok"   # the chain was completed on both sides


# ---- the one-pass PEM reader -------------------------------------------------
# Lazy loads read the plain PEM that bundles use in one pass and hand
# anything else to OpenSSL's PEM_read_bio. Each variant below is loaded by
# tlsctx and the stdlib (file and cadata): outcome, exception, counts and
# every certificate's DER must be the same, whichever reader tlsctx used;
# the plain variants must have been read in one pass.

def _pem_variants():
    rk = new_key()
    root = make_cert(name("PEM Root"), rk)
    other = make_cert(name("PEM Other"), new_key())
    crl = make_crl(root, rk)
    one = root.public_bytes(PEM)
    two = other.public_bytes(PEM)
    lines = one.splitlines(keepends=True)
    body = b"".join(lines[1:-1])
    begin, end = lines[0], lines[-1]
    flat = body.replace(b"\n", b"")
    plain = {
        "one": one,
        "two": one + two,
        "crlf": one.replace(b"\n", b"\r\n") + two,
        "trailing blanks": b"".join(line.rstrip(b"\n") + b" \t\n" for line in lines),
        "comments around": b"# Issuer: CN=Example\n" + one + b"\nsome text\n" + two + b"trailing words",
        "utf-8 comments": b"# Issuer: CN=Caf\xc3\xa9 \xe2\x9c\x93\n" + one,
        "no final newline": one + two.rstrip(b"\n"),
        "with a CRL": one + crl.public_bytes(PEM),
        "x509 old name": one.replace(b"CERTIFICATE", b"X509 CERTIFICATE"),
        "76-column lines": begin + b"".join(flat[i:i + 76] + b"\n" for i in range(0, len(flat), 76))
                           + end,
    }
    other_forms = {
        "byte-order mark": b"\xef\xbb\xbf" + one,
        "header": begin + b"Proc-Type: 4,ENCRYPTED\n\n" + body + end,
        "blank line inside": begin + lines[1] + b"\n" + b"".join(lines[2:]),
        "odd line lengths": begin + b"".join(flat[i:i + 63] + b"\n" for i in range(0, len(flat), 63))
                            + end,
        "one long line": begin + flat + b"\n" + end,
        "space inside": begin + lines[1][:8] + b" " + lines[1][8:] + b"".join(lines[2:]),
        "not base64": begin + lines[1][:8] + b"*" + lines[1][9:] + b"".join(lines[2:]),
        "padding inside": begin + lines[1][:-3] + b"==\n" + b"".join(lines[2:]),
        "end of another name": one.replace(b"END CERTIFICATE", b"END X509 CRL"),
        "end with more": one.replace(b"CERTIFICATE-----\n", b"CERTIFICATE----- x\n"),
        "no end": b"".join(lines[:-1]),
        "nested begin": begin + lines[1] + begin + b"".join(lines[2:]),
        "NUL in a comment": b"#\x00\n" + one,
        "private key": one + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "empty block": begin + end + one,
        "control character": begin + lines[1].rstrip(b"\n") + b"\x0b\n" + b"".join(lines[2:]),
        "lower-case name": one.replace(b"CERTIFICATE", b"certificate"),
    }
    return plain, other_forms


PLAIN_PEM, OTHER_PEM = _pem_variants()


@pytest.mark.parametrize("source", ["file", "cadata"])
@pytest.mark.parametrize("variant", sorted(PLAIN_PEM) + sorted(OTHER_PEM))
def test_pem_text_read_alike(tmp_path, variant, source):
    data = PLAIN_PEM.get(variant, OTHER_PEM.get(variant))
    if source == "cadata" and b"\x00" in data:
        data = data.replace(b"\x00", b"")
    path = str(tmp_path / "variant.pem")
    with open(path, "wb") as f:
        f.write(data)
    was = _T._set_lazy_trust(True)
    try:
        _T._trust_cache_clear()
        before = _T._pem_fast_scans()
        mine = _load_outcome(tlsctx, source, data, path)
        one_pass = _T._pem_fast_scans() > before
    finally:
        _T._set_lazy_trust(was)
        _T._trust_cache_clear()
    theirs = _load_outcome(ssl, source, data, path)
    assert mine == theirs
    if variant in PLAIN_PEM and (source == "file" or data.isascii()):
        assert mine[0] == "ok" and one_pass, "a plain bundle must be read in one pass"
