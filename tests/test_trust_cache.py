"""The shared trust cache: every context must see exactly what the stdlib's
context would after the same calls, however the parsed sources and stores
are shared underneath.

Each check runs the same steps on a tlsctx context and an ssl context and
compares, after every step, the outcome (result or exception), the
cert_store_stats(), the CA certificates in store order
(get_ca_certs(binary_form=True)) and verify_flags.
"""
import os
import ssl
import sys
import threading

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import tlsctx
from helpers import SAME_OPENSSL
from helpers import outcome

# Documented differences between the running stdlib and CPython 3.13's, one
# table for this module.
STDLIB_313_DIFFERENCES = {
    # 3.13 added VERIFY_X509_PARTIAL_CHAIN and VERIFY_X509_STRICT to
    # create_default_context(); older stdlibs leave verify_flags alone.
    "default_context_flags": sys.version_info < (3, 13),
}

# Deliberate differences from the stdlib: a failed load_verify_locations
# leaves a tlsctx context unchanged, while the stdlib keeps the certificates
# it added before the failure ("nothing half applied").
HALF_APPLIED_BY_STDLIB = {"cadata PEM then a broken PEM block", "cadata DER then junk",
                         "good cadata with a missing cafile"}

SYSTEM_PATHS = ssl.get_default_verify_paths()


def same_outcome(mine, theirs):
    """outcome() results equal, allowing the deliberate difference of
    docs/differences.md: tlsctx's OSError for a file also names the file."""
    if mine == theirs:
        return True
    (m, m_warnings), (t, t_warnings) = mine, theirs
    if (m_warnings == t_warnings and m[0] == t[0] == "raise" and m[1] == t[1]
            and m[3:] == t[3:] and t[5] is not None):
        return m[2].startswith(t[2] + ": '") and m[2].endswith("'")
    return False


def std_default_context(*args, **kwargs):
    """ssl.create_default_context() as CPython 3.13 builds it."""
    ctx = ssl.create_default_context(*args, **kwargs)
    if STDLIB_313_DIFFERENCES["default_context_flags"]:
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    return ctx


def snapshot(ctx):
    return {
        "stats": ctx.cert_store_stats(),
        "ca_certs": ctx.get_ca_certs(binary_form=True),
        "verify_flags": int(ctx.verify_flags),
    }


def assert_same_trust(mine, theirs):
    a, b = snapshot(mine), snapshot(theirs)
    assert a["stats"] == b["stats"]
    assert a["verify_flags"] == b["verify_flags"]
    # same certificates in the same order (compared by position for a short diff)
    assert len(a["ca_certs"]) == len(b["ca_certs"])
    if not SAME_OPENSSL:
        # the store's object order is the linked OpenSSL's: compare contents only
        assert sorted(a["ca_certs"]) == sorted(b["ca_certs"])
        return
    assert [i for i, (x, y) in enumerate(zip(a["ca_certs"], b["ca_certs"])) if x != y] == []


def run_steps(steps, make_pair=None):
    """Apply each step to a fresh tlsctx and stdlib client context; compare
    after every step."""
    if make_pair is None:
        mine = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
        theirs = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        mine, theirs = make_pair()
    for number, step in enumerate(steps):
        got, expected = outcome(step, mine), outcome(step, theirs)
        assert same_outcome(got, expected), ("step %d" % number, got, expected)
        assert_same_trust(mine, theirs)
    return mine, theirs


# ---- material ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cas():
    return [trustme.CA() for _ in range(6)]


def pem_of(ca):
    return ca.cert_pem.bytes()


def der_of(ca):
    return x509.load_pem_x509_certificate(pem_of(ca)).public_bytes(Encoding.DER)


@pytest.fixture
def files(tmp_path, cas):
    """A few CA files: overlapping sets, one CA alone, the whole lot."""
    def write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)
    pems = [pem_of(ca) for ca in cas]
    return {
        "a": write("a.pem", b"".join(pems[:3])),
        "b": write("b.pem", b"".join(pems[2:5])),
        "c": write("c.pem", pems[5]),
        "all": write("all.pem", b"".join(pems)),
        "dir": str(tmp_path),
    }


def system_cafile():
    path = SYSTEM_PATHS.cafile or SYSTEM_PATHS.openssl_cafile
    if not path or not os.path.isfile(path):
        pytest.skip("no system CA bundle on this machine (looked for %r)" % (path,))
    return path


def system_capath():
    path = SYSTEM_PATHS.capath or SYSTEM_PATHS.openssl_capath
    if not path or not os.path.isdir(path):
        pytest.skip("no system CA directory on this machine (looked for %r)" % (path,))
    return path


def load(**kwargs):
    return lambda ctx: ctx.load_verify_locations(**kwargs)


def default_paths(ctx):
    return ctx.set_default_verify_paths()


def clear_strict(ctx):
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT


def set_strict_partial(ctx):
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN


# ---- counts and order equal to the stdlib's --------------------------------

def test_system_bundle_counts_and_order():
    cafile = system_cafile()
    run_steps([load(cafile=cafile)])


def test_set_default_verify_paths_matches():
    run_steps([default_paths])


def test_load_default_certs_matches():
    run_steps([lambda ctx: ctx.load_default_certs()])


def test_capath_matches():
    run_steps([load(capath=system_capath())])


def test_cafile_matches(files):
    run_steps([load(cafile=files["all"])])


def test_cadata_str_matches(cas):
    run_steps([load(cadata="".join(pem_of(ca).decode() for ca in cas))])


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_cadata_der_matches(cas, kind):
    run_steps([load(cadata=kind(b"".join(der_of(ca) for ca in cas)))])


def test_create_default_context_matches():
    mine = tlsctx.create_default_context()
    theirs = std_default_context()
    assert_same_trust(mine, theirs)


def test_create_default_context_with_sources_matches(files, cas):
    for kwargs in [{"cafile": files["a"]}, {"cadata": pem_of(cas[0]).decode()},
                   {"cafile": files["b"], "cadata": der_of(cas[5])}]:
        assert_same_trust(tlsctx.create_default_context(**kwargs),
                          std_default_context(**kwargs))


# ---- sequences: order at every step -----------------------------------------

def test_same_file_loaded_again(files):
    run_steps([load(cafile=files["a"])] * 4)


def test_system_bundle_loaded_again():
    cafile = system_cafile()
    run_steps([load(cafile=cafile)] * 3)


def test_overlapping_files_interleaved(files):
    run_steps([load(cafile=files["a"]), load(cafile=files["b"]), load(cafile=files["a"]),
               load(cafile=files["c"]), load(cafile=files["b"]), load(cafile=files["all"])])


def test_set_default_verify_paths_repeated(files):
    run_steps([default_paths, default_paths, load(cafile=files["a"]), default_paths,
               default_paths])


def test_cadata_repeated(cas):
    pem = pem_of(cas[0]).decode() + pem_of(cas[1]).decode()
    der = der_of(cas[2]) + der_of(cas[3])
    run_steps([load(cadata=pem), load(cadata=pem), load(cadata=der), load(cadata=der),
               load(cadata=pem_of(cas[0])), load(cadata=pem)])


def test_cadata_then_cafile_in_one_call(files, cas):
    run_steps([load(cafile=files["a"], cadata=pem_of(cas[4]).decode()),
               load(cadata=der_of(cas[5]), cafile=files["a"]),
               load(cafile=files["b"], capath=files["dir"], cadata=pem_of(cas[0]).decode())])


def test_capath_repeated_and_mixed(files):
    capath = system_capath()
    run_steps([load(capath=capath), load(capath=capath), load(cafile=files["a"], capath=capath),
               default_paths, load(capath=files["dir"])])


def test_loading_after_verify_flags_changes(files):
    run_steps([load(cafile=files["a"]), set_strict_partial, load(cafile=files["b"]), clear_strict,
               load(cafile=files["c"]), load(cafile=files["a"]), clear_strict, default_paths])


def test_server_contexts_match(files):
    run_steps([load(cafile=files["a"]), default_paths, load(cafile=files["a"])],
              make_pair=lambda: (tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER),
                                 ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)))


# ---- errors: same exception, nothing half applied ---------------------------

BROKEN_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def error_cases(files, cas, tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)
    return {
        "missing cafile": load(cafile=str(tmp_path / "missing.pem")),
        "missing capath": load(capath=str(tmp_path / "missing")),
        "cafile is a directory": load(cafile=files["dir"]),
        "empty cafile": load(cafile=write("empty.pem", b"")),
        "cafile without PEM": load(cafile=write("text.pem", b"hello\n")),
        "cafile with a broken PEM block": load(cafile=write("broken.pem", BROKEN_PEM)),
        "cafile good then broken": load(cafile=write("half.pem", pem_of(cas[0]) + BROKEN_PEM)),
        "empty cadata str": load(cadata=""),
        "empty cadata bytes": load(cadata=b""),
        "cadata str without PEM": load(cadata="hello"),
        "cadata bytes junk": load(cadata=b"hello"),
        "cadata non-ASCII": load(cadata="\u00e9"),
        "cadata PEM then a broken PEM block": load(cadata=pem_of(cas[0]).decode()
                                                   + BROKEN_PEM.decode()),
        "cadata DER then junk": load(cadata=der_of(cas[0]) + b"junk"),
        "cadata wrong type": load(cadata=1),
        "cafile wrong type": load(cafile=1),
        "capath wrong type": load(capath=1),
        "nothing given": lambda ctx: ctx.load_verify_locations(),
        "bad cadata with a good cafile": load(cafile=files["a"], cadata="hello"),
        "good cadata with a missing cafile": load(cadata=pem_of(cas[1]).decode(),
                                                  cafile=str(tmp_path / "missing.pem")),
    }


def test_errors_match_stdlib_and_change_nothing(files, cas, tmp_path):
    for name, step in error_cases(files, cas, tmp_path).items():
        mine = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
        theirs = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for ctx in (mine, theirs):
            ctx.load_verify_locations(cafile=files["c"])
        before = snapshot(mine)
        got, expected = outcome(step, mine), outcome(step, theirs)
        assert same_outcome(got, expected), (name, got, expected)
        if got[0][0] == "raise":
            # a failed load leaves the tlsctx context exactly as it was
            assert snapshot(mine) == before, name
        if name not in HALF_APPLIED_BY_STDLIB:
            assert_same_trust(mine, theirs)


def test_missing_file_raises_with_errno(tmp_path):
    path = str(tmp_path / "missing.pem")
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    with pytest.raises(FileNotFoundError) as info:
        ctx.load_verify_locations(path)
    assert info.value.errno == 2
    assert info.value.filename == path  # deliberate: the stdlib's has no filename


def test_deleted_file_after_load(files):
    mine, theirs = run_steps([load(cafile=files["a"])])
    os.unlink(files["a"])
    run_steps([load(cafile=files["a"])], make_pair=lambda: (mine, theirs))


# ---- isolation between contexts ---------------------------------------------

def test_loading_into_one_context_leaves_others_alone(files, cas):
    mine = [tlsctx.create_default_context() for _ in range(4)]
    theirs = [std_default_context() for _ in range(4)]
    steps = [(0, load(cafile=files["a"])), (1, load(cadata=pem_of(cas[5]).decode())),
             (0, load(cafile=files["b"])), (2, clear_strict), (3, default_paths),
             (2, load(cafile=files["a"])), (0, load(cafile=files["a"]))]
    for index, step in steps:
        assert same_outcome(outcome(step, mine[index]), outcome(step, theirs[index]))
        for m, t in zip(mine, theirs):
            assert_same_trust(m, t)


def test_verify_flags_copy_on_write():
    mine = [tlsctx.create_default_context() for _ in range(3)]
    theirs = [std_default_context() for _ in range(3)]
    for ctx in (mine[0], theirs[0]):
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    for m, t in zip(mine, theirs):
        assert int(m.verify_flags) == int(t.verify_flags)
        assert_same_trust(m, t)
    assert not mine[0].verify_flags & tlsctx.VERIFY_X509_STRICT
    assert all(ctx.verify_flags & tlsctx.VERIFY_X509_STRICT for ctx in mine[1:])
    # and back: the same flags as the others again, nothing else changed
    for ctx in (mine[0], theirs[0]):
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    for m, t in zip(mine, theirs):
        assert_same_trust(m, t)


def test_verify_flags_other_bits_copy_on_write(files):
    mine = [tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT) for _ in range(2)]
    theirs = [ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) for _ in range(2)]
    for ctx in mine + theirs:
        ctx.load_verify_locations(files["a"])
    for flag in (ssl.VERIFY_CRL_CHECK_LEAF, ssl.VERIFY_CRL_CHECK_CHAIN, ssl.VERIFY_ALLOW_PROXY_CERTS,
                 ssl.VERIFY_X509_TRUSTED_FIRST):
        for ctx in (mine[0], theirs[0]):
            ctx.verify_flags ^= flag
        for m, t in zip(mine, theirs):
            assert_same_trust(m, t)


# ---- file changes ------------------------------------------------------------

def same_size(first, second):
    """Pad the shorter PEM text (trailing newlines are ignored) so both have
    one size."""
    size = max(len(first), len(second))
    return first.ljust(size, b"\n"), second.ljust(size, b"\n")


def test_rewritten_file_same_size_same_mtime_is_reread(tmp_path, cas):
    """A rewrite in place within the same timestamp tick, with the mtime put
    back: only the content tells the versions apart."""
    path = str(tmp_path / "ca.pem")
    old, new = same_size(pem_of(cas[0]), pem_of(cas[1]))
    with open(path, "wb") as f:
        f.write(old)
    first = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    first.load_verify_locations(path)
    stamp = os.stat(path)
    with open(path, "r+b") as f:
        f.write(new)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert os.stat(path).st_size == stamp.st_size
    second, theirs = run_steps([load(cafile=path)])
    assert second.get_ca_certs(True) != first.get_ca_certs(True)
    # the first context keeps what it loaded
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reference.load_verify_locations(cadata=old.decode())
    assert_same_trust(first, reference)


def test_replaced_file_is_reread(tmp_path, cas):
    path = str(tmp_path / "ca.pem")
    with open(path, "wb") as f:
        f.write(pem_of(cas[0]))
    run_steps([load(cafile=path)])
    replacement = str(tmp_path / "ca.pem.new")
    with open(replacement, "wb") as f:
        f.write(pem_of(cas[2]) + pem_of(cas[3]))
    os.replace(replacement, path)
    run_steps([load(cafile=path)])


def test_unchanged_file_rewritten_with_same_content(tmp_path, cas):
    path = str(tmp_path / "ca.pem")
    data = pem_of(cas[0]) + pem_of(cas[1])
    for _ in range(3):
        with open(path, "wb") as f:
            f.write(data)
        run_steps([load(cafile=path), load(cafile=path)])


def test_ssl_cert_file_environment_is_honoured(tmp_path, cas, monkeypatch):
    first = tmp_path / "first.pem"
    second = tmp_path / "second.pem"
    first.write_bytes(pem_of(cas[0]))
    second.write_bytes(pem_of(cas[1]) + pem_of(cas[2]))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    monkeypatch.setenv("SSL_CERT_FILE", str(first))
    a, _ = run_steps([default_paths])
    monkeypatch.setenv("SSL_CERT_FILE", str(second))
    b, _ = run_steps([default_paths])
    assert a.cert_store_stats()["x509"] == 1
    assert b.cert_store_stats()["x509"] == 2
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    run_steps([default_paths, lambda ctx: ctx.load_default_certs()])
    assert_same_trust(tlsctx.create_default_context(), std_default_context())


# ---- threads, bounds, clearing -------------------------------------------------

@pytest.mark.same_openssl
def test_concurrent_creation_from_cold_cache(tmp_path, cas):
    path = tmp_path / "many.pem"
    path.write_bytes(b"".join(pem_of(ca) for ca in cas))
    for round_ in range(3):
        tlsctx.clear_trust_cache()
        count = 16
        barrier = threading.Barrier(count)
        results = [None] * count
        errors = []

        def work(slot):
            try:
                barrier.wait()
                ctx = tlsctx.create_default_context()
                ctx.load_verify_locations(str(path))
                ctx.load_verify_locations(cadata=pem_of(cas[slot % 2]).decode())
                results[slot] = (ctx.cert_store_stats(), ctx.get_ca_certs(True),
                                 int(ctx.verify_flags))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for slot in range(count):
            theirs = std_default_context()
            theirs.load_verify_locations(str(path))
            theirs.load_verify_locations(cadata=pem_of(cas[slot % 2]).decode())
            assert results[slot] == (theirs.cert_store_stats(), theirs.get_ca_certs(True),
                                     int(theirs.verify_flags))


def test_cache_bound_holds(cas):
    info = tlsctx.trust_cache_info()
    extra_ca = trustme.CA()
    keep = []
    # more distinct sources (and so stores) than the cache holds
    for i in range(info["max_sources"] + 8):
        ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=pem_of(extra_ca).decode() + "\n" * (i + 1))
        keep.append(ctx)
        info = tlsctx.trust_cache_info()
        assert info["sources"] <= info["max_sources"]
        assert info["stores"] <= info["max_stores"]
    # evicted entries stay alive in the contexts that use them
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reference.load_verify_locations(cadata=pem_of(extra_ca).decode())
    for ctx in keep:
        assert_same_trust(ctx, reference)


def test_clear_trust_cache(files):
    before = tlsctx.create_default_context()
    loaded = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    loaded.load_verify_locations(files["a"])
    assert tlsctx.trust_cache_info()["sources"] > 0
    assert tlsctx.clear_trust_cache() is None
    info = tlsctx.trust_cache_info()
    assert (info["sources"], info["stores"]) == (0, 0)
    # contexts keep their trust; new ones load again
    assert_same_trust(before, std_default_context())
    run_steps([load(cafile=files["a"])], make_pair=lambda: (loaded, _std_loaded(files["a"])))
    assert_same_trust(tlsctx.create_default_context(), std_default_context())
    assert tlsctx.trust_cache_info()["sources"] > 0


def _std_loaded(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    return ctx


def test_trust_cache_info_shape():
    info = tlsctx.trust_cache_info()
    assert set(info) == {"sources", "max_sources", "stores", "max_stores", "hits",
                         "store_builds", "parses"}
    assert all(isinstance(v, int) and v >= 0 for v in info.values())


def test_warm_creation_parses_nothing(files):
    tlsctx.create_default_context()
    tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_verify_locations(files["all"])
    parses = tlsctx.trust_cache_info()["parses"]
    for _ in range(5):
        tlsctx.create_default_context()
    assert tlsctx.trust_cache_info()["parses"] == parses


def test_many_incremental_loads_keep_stdlib_order(cas, files):
    """One source at a time (stores are then built from the previous one),
    with repeats, a verify_flags change and a capath in between."""
    extra = [trustme.CA() for _ in range(24)]
    steps = []
    for i, ca in enumerate(extra):
        steps.append(load(cadata=pem_of(ca).decode() if i % 2 else der_of(ca)))
        if i % 7 == 3:
            steps.append(load(cadata=pem_of(extra[i - 1]).decode()))
        if i == 10:
            steps.append(clear_strict)
        if i == 16:
            steps.append(load(capath=files["dir"]))
        if i == 20:
            steps.append(load(cafile=files["all"]))
    run_steps(steps)


# ---- certificates sharing a subject: OpenSSL's duplicate check ---------------
#
# X509_STORE_add_cert skips a certificate already in the store, but it only
# compares it with the run of same-subject objects that starts at the first
# one: on OpenSSL 3.2+, whose unsorted lists are searched in order, a second
# load of a bundle whose same-subject certificates are apart appends some of
# them again (the stdlib's counts grow), while a sorted list sees them all.


def _same_subject_ca(common_name):
    """A self-signed CA certificate (PEM) for `common_name`, under a key of its own."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Three CAs named "Twin CA" (different keys) kept apart by other CAs in
    one bundle, and a bundle where they are adjacent."""
    directory = tmp_path_factory.mktemp("twins")
    twin = [_same_subject_ca("Twin CA") for _ in range(3)]
    other = [_same_subject_ca("Other CA %d" % i) for i in range(3)]
    apart = [twin[0], other[0], twin[1], other[1], twin[2], other[2]]
    adjacent = twin + other
    paths = {}
    for name, pems in (("apart", apart), ("adjacent", adjacent), ("other", other)):
        path = directory / (name + ".pem")
        path.write_bytes(b"".join(pems))
        paths[name] = str(path)
    ders = [x509.load_pem_x509_certificate(p).public_bytes(Encoding.DER) for p in apart]
    return {"paths": paths, "apart": apart, "ders": ders}


@pytest.mark.same_openssl  # which duplicates are missed is the linked OpenSSL's
@pytest.mark.parametrize("case", ["file twice", "file three times", "file, cadata, file",
                                  "cadata then file, one call", "reordered cadata, file",
                                  "adjacent twice", "another file in between"])
def test_same_subject_certificates_loaded_again(twins, case):
    apart, adjacent = twins["paths"]["apart"], twins["paths"]["adjacent"]
    der_reversed = b"".join(reversed(twins["ders"]))
    steps = {
        "file twice": [load(cafile=apart)] * 2,
        "file three times": [load(cafile=apart)] * 3,
        "file, cadata, file": [load(cafile=apart), load(cadata=b"".join(twins["ders"])),
                               load(cafile=apart)],
        "cadata then file, one call": [load(cadata=b"".join(twins["apart"]).decode(),
                                            cafile=apart), load(cafile=apart)],
        "reordered cadata, file": [load(cadata=der_reversed), load(cafile=apart),
                                   load(cadata=der_reversed)],
        "adjacent twice": [load(cafile=adjacent), load(cafile=adjacent), load(cafile=apart)],
        "another file in between": [load(cafile=apart), load(cafile=twins["paths"]["other"]),
                                    load(cafile=apart), default_paths, load(cafile=apart)],
    }[case]
    mine, theirs = run_steps(steps)
    # a second context with the same loads shares the first one's stores
    again, _ = run_steps(steps)
    assert snapshot(again) == snapshot(mine)
    if case == "file twice":
        twice = theirs.cert_store_stats()["x509"]
        # the case this test is about: on OpenSSL 3.2+ the stdlib appends
        # the twins apart from the first one again (3.0-3.1 sort first)
        if ssl.OPENSSL_VERSION_INFO >= (3, 2):
            assert twice == len(twins["apart"]) + 2
        else:
            assert twice == len(twins["apart"])
