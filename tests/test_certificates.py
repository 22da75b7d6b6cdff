"""Certificate introspection: get_ca_certs(), cert_store_stats(),
_test_decode_cert() and the PEM/DER/time helpers, compared with the stdlib
on a generated corpus (tests/certcorpus.py), the system CA bundle and
certifi's bundle."""
import json
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import _ssl
import ctypes

import certifi
import pytest

import tlsctx
from tlsctx import _tlsctx

import certcorpus
from helpers import SAME_OPENSSL, outcome

# Decoded fields and store order are printed and kept by the linked OpenSSL:
# every comparison here needs tlsctx and the stdlib to share one.
pytestmark = pytest.mark.same_openssl

# Documented differences of older stdlibs from CPython 3.13's behaviour, by
# (bundle, route): {case: (first stdlib version without it, what happens)}.
# tlsctx follows 3.13; on older interpreters the test checks that the old
# stdlib shows exactly the listed behaviour, and compares everything else.
STDLIB_DIFFERENCES = {
    # 3.10/3.11 report any error left on the queue after a DER cadata load;
    # adding a duplicate of a certificate whose subjectAltName cannot be
    # parsed leaves one (X509V3 INVALID_CERTIFICATE). Every certificate is
    # still added, so the store is the same as 3.13's.
    ("corpus", "cafile_then_cadata_then_cafile"):
        ((3, 12), ("SSLError", "X509V3", "INVALID_CERTIFICATE")),
    # 3.15 writes an empty line between the PEM markers for empty DER input
    # (base64 with wrapcol); older ones write none
    ("DER_cert_to_PEM_cert", "DER_cert_to_PEM_cert(b'')"):
        ((3, 15), "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"),
}

# Known differences of tlsctx from the stdlib, by test case, each with the
# reason (docs/differences.md); the test asserts tlsctx's behaviour for them.
TLSCTX_DIVERGENCES = {
    # The stdlib adds cadata certificates one by one: when a later one is bad
    # it raises, but keeps the good ones before it. tlsctx parses everything
    # first and leaves the context unchanged on error (src/trustcache.c).
    "der_good_then_truncated": "cadata error keeps earlier certificates in the stdlib",
    "der_good_then_garbage": "cadata error keeps earlier certificates in the stdlib",
    "pem_good_then_truncated": "cadata error keeps earlier certificates in the stdlib",
}

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


# The stdlib's own libcrypto (the same one tlsctx uses), for its error queue.
_STDLIB_CRYPTO = ctypes.CDLL(_ssl.__file__)


def clear_stdlib_errors():
    """Drain the thread's OpenSSL error queue before a stdlib call.

    The 3.10/3.11 stdlib leaves errors on the queue (get_ca_certs' CA check
    on a certificate with an unreadable extension) and a later DER cadata
    load reports any error it finds there; 3.12+ do not. Comparisons start
    from an empty queue, as 3.13 effectively does."""
    _STDLIB_CRYPTO.ERR_clear_error()


def both(protocol_name="PROTOCOL_TLS_CLIENT"):
    clear_stdlib_errors()
    return (tlsctx.SSLContext(getattr(tlsctx, protocol_name)),
            ssl.SSLContext(getattr(ssl, protocol_name)))


def listing(ctx):
    """Everything a user can see of a context's trust store."""
    clear_stdlib_errors()
    return {
        "stats": outcome(ctx.cert_store_stats),
        "ca_certs": outcome(ctx.get_ca_certs),
        "ca_certs_der": outcome(ctx.get_ca_certs, binary_form=True),
        "ca_certs_der_kw": outcome(ctx.get_ca_certs, True),
    }


def assert_same_listing(mine, theirs):
    a, b = listing(mine), listing(theirs)
    if not SAME_OPENSSL:
        # the store's object order is the linked OpenSSL's: compare contents only
        for listing_of in (a, b):
            for key, (result, warned) in list(listing_of.items()):
                if result[0] == "ok" and isinstance(result[1], list):
                    listing_of[key] = (("ok", sorted(result[1], key=repr)), warned)
    # compare the pieces separately: a failure names the one that differs
    for key in a:
        assert a[key] == b[key], key
    # dict key order too: the stdlib builds its dicts in a fixed order
    if a["ca_certs"][0][0] == "ok":
        assert ([list(d) for d in a["ca_certs"][0][1]]
                == [list(d) for d in b["ca_certs"][0][1]])
    return b


# ---- the corpora ----------------------------------------------------------


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("certs")


def _good_corpus():
    """The corpus certificates that load here (see certcorpus.refused_by_stdlib)."""
    refused = certcorpus.RAISING | certcorpus.refused_by_stdlib()
    return {k: v for k, v in certcorpus.corpus().items() if k not in refused}


def test_refused_certificates_are_refused_alike():
    """What the linked OpenSSL refuses (RAISING everywhere, a UTCTime without
    seconds from 3.5 on) tlsctx refuses with the stdlib's error."""
    refused = certcorpus.refused_by_stdlib()
    for key in sorted(refused):
        der = certcorpus.corpus()[key]
        for cadata in (der, certcorpus.pem(der)):
            mine, theirs = both()
            assert (outcome(mine.load_verify_locations, cadata=cadata)
                    == outcome(theirs.load_verify_locations, cadata=cadata)), key


@pytest.fixture(scope="session")
def corpus_files(workdir):
    """{name: path of a one-certificate PEM file} for the whole corpus."""
    paths = {}
    for key, der in certcorpus.corpus().items():
        path = workdir / ("corpus-%s.pem" % key)
        path.write_text(certcorpus.pem(der))
        paths[key] = str(path)
    return paths


def _bundle_ders(kind):
    if kind == "corpus":
        return list(_good_corpus().values())
    path = SYSTEM_BUNDLE if kind == "system" else certifi.where()
    if not os.path.exists(path):
        pytest.skip("no %s CA bundle at %s" % (kind, path))
    return certcorpus.split_pem_bundle(path)


BUNDLES = ["corpus", "system", "certifi"]


@pytest.fixture(scope="session")
def bundle_files(workdir):
    """{kind: (path of a PEM cafile, list of DER)}; the corpus file has a CRL
    in the middle, and the system and certifi files are used as they are."""
    files = {}
    for kind in BUNDLES:
        if kind == "corpus":
            ders = _bundle_ders(kind)
            half = len(ders) // 2
            text = ("".join(certcorpus.pem(d) for d in ders[:half]) + certcorpus.crl_pem()
                    + "".join(certcorpus.pem(d) for d in ders[half:]))
            path = workdir / "corpus-bundle.pem"
            path.write_text(text)
            files[kind] = (str(path), ders)
        else:
            path = SYSTEM_BUNDLE if kind == "system" else certifi.where()
            if os.path.exists(path):
                files[kind] = (path, certcorpus.split_pem_bundle(path))
    return files


def _bundle(bundle_files, kind):
    if kind not in bundle_files:
        pytest.skip("no %s CA bundle on this machine" % kind)
    return bundle_files[kind]


# ---- _test_decode_cert: one certificate at a time --------------------------


@pytest.mark.parametrize("key", list(certcorpus.corpus()))
def test_decode_cert_corpus(corpus_files, key):
    mine = outcome(_tlsctx._test_decode_cert, corpus_files[key])
    theirs = outcome(_ssl._test_decode_cert, corpus_files[key])
    assert mine == theirs
    if mine[0][0] == "ok":
        assert list(mine[0][1]) == list(theirs[0][1])


@pytest.mark.parametrize("kind", ["system", "certifi"])
def test_decode_cert_whole_bundles(bundle_files, workdir, kind):
    path, ders = _bundle(bundle_files, kind)
    assert ders, "the %s bundle has certificates" % kind
    for index, der in enumerate(ders):
        one = workdir / ("%s-%d.pem" % (kind, index))
        one.write_text(certcorpus.pem(der))
        mine = outcome(_tlsctx._test_decode_cert, str(one))
        theirs = outcome(_ssl._test_decode_cert, str(one))
        assert mine == theirs, (kind, index)
        assert mine[0][0] == "ok"


def test_decode_cert_reads_first_certificate_of_a_bundle(bundle_files):
    path, _ = _bundle(bundle_files, "corpus")
    assert outcome(_tlsctx._test_decode_cert, path) == outcome(_ssl._test_decode_cert, path)


def _malformed_files(workdir):
    good = certcorpus.pem(certcorpus.corpus()["cn_only"])
    der = certcorpus.corpus()["cn_only"]
    cases = {
        "empty": "",
        "garbage": "this is not a certificate\n",
        "garbage_pem": "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n"
                       "-----END CERTIFICATE-----\n",
        "truncated_pem": good[: len(good) // 2],
        "truncated_der_in_pem": certcorpus.pem(der[:-10]),
        "der_not_pem": None,
        "crl_only": certcorpus.crl_pem(),
        "text_before_pem": "some text first\n" + good,
        "crl_then_cert": certcorpus.crl_pem() + good,
    }
    paths = {}
    for key, text in cases.items():
        path = workdir / ("malformed-%s" % key)
        if text is None:
            path.write_bytes(der)
        else:
            path.write_text(text)
        paths[key] = str(path)
    paths["missing"] = str(workdir / "does-not-exist.pem")
    paths["directory"] = str(workdir)
    return paths


def test_decode_cert_malformed_files(workdir):
    for key, path in _malformed_files(workdir).items():
        mine = outcome(_tlsctx._test_decode_cert, path)
        theirs = outcome(_ssl._test_decode_cert, path)
        assert mine == theirs, key


@pytest.mark.parametrize("arg", [42, None, b"/does/not/exist", "nul\x00in path",
                                 pathlib.Path("/does/not/exist")],
                         ids=["int", "none", "bytes", "nul", "pathlike"])
def test_decode_cert_arguments(arg):
    assert outcome(_tlsctx._test_decode_cert, arg) == outcome(_ssl._test_decode_cert, arg)


def test_decode_cert_pathlike_and_bytes_paths(corpus_files):
    path = corpus_files["san_all_kinds"]
    expected = outcome(_ssl._test_decode_cert, path)
    assert expected[0][0] == "ok"
    assert outcome(_tlsctx._test_decode_cert, pathlib.Path(path)) == expected
    assert outcome(_tlsctx._test_decode_cert, os.fsencode(path)) == expected


# ---- get_ca_certs / cert_store_stats, every loading route --------------------


def _pem_text(ders, with_crl):
    text = "".join(certcorpus.pem(d) for d in ders)
    return text + certcorpus.crl_pem() if with_crl else text


ROUTES = ["cafile", "cafile_twice", "cafile_three_times", "cadata_pem", "cadata_pem_with_crl",
          "cadata_der_bytes", "cadata_der_bytearray", "cadata_der_memoryview",
          "cadata_then_cafile", "cafile_then_cadata_then_cafile", "load_default_certs_env",
          "load_verify_all_three", "create_default_context"]


def _load(route, module, path, ders, tmp_capath, old_error=None):
    clear_stdlib_errors()
    der_blob = b"".join(ders)
    if route == "create_default_context":
        return module.create_default_context(cafile=path)
    ctx = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
    if route == "cafile":
        ctx.load_verify_locations(path)
    elif route == "cafile_twice":
        ctx.load_verify_locations(path)
        ctx.load_verify_locations(cafile=path)
    elif route == "cafile_three_times":
        for _ in range(3):
            ctx.load_verify_locations(path)
    elif route == "cadata_pem":
        ctx.load_verify_locations(cadata=_pem_text(ders, False))
    elif route == "cadata_pem_with_crl":
        ctx.load_verify_locations(cadata=_pem_text(ders, True))
    elif route == "cadata_der_bytes":
        ctx.load_verify_locations(cadata=der_blob)
    elif route == "cadata_der_bytearray":
        ctx.load_verify_locations(cadata=bytearray(der_blob))
    elif route == "cadata_der_memoryview":
        ctx.load_verify_locations(cadata=memoryview(der_blob))
    elif route == "cadata_then_cafile":
        ctx.load_verify_locations(cadata=der_blob[: len(ders[0])])
        clear_stdlib_errors()
        ctx.load_verify_locations(path)
    elif route == "cafile_then_cadata_then_cafile":
        ctx.load_verify_locations(path)
        clear_stdlib_errors()
        try:
            ctx.load_verify_locations(cadata=b"".join(reversed(ders)))
        except ssl.SSLError as exc:
            if old_error is None:
                raise
            old_error.append((type(exc).__name__, exc.library, exc.reason))
        ctx.load_verify_locations(path)
    elif route == "load_default_certs_env":
        ctx.load_default_certs()
    elif route == "load_verify_all_three":
        ctx.load_verify_locations(path, tmp_capath, ders[-1])
    else:
        raise AssertionError(route)
    return ctx


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", BUNDLES)
def test_get_ca_certs_routes(bundle_files, workdir, monkeypatch, kind, route):
    path, ders = _bundle(bundle_files, kind)
    capath = workdir / "empty-capath"
    capath.mkdir(exist_ok=True)
    if route == "load_default_certs_env":
        monkeypatch.setenv("SSL_CERT_FILE", path)
        monkeypatch.setenv("SSL_CERT_DIR", str(capath))
    mine = _load(route, tlsctx, path, ders, str(capath))
    difference = STDLIB_DIFFERENCES.get((kind, route))
    old_error = None
    if difference is not None and sys.version_info < difference[0]:
        old_error = []
    theirs = _load(route, ssl, path, ders, str(capath), old_error)
    if old_error is not None:
        assert old_error == [difference[1]], "the documented pre-3.12 difference"
    result = assert_same_listing(mine, theirs)
    stats = result["stats"][0][1]
    assert stats["x509"] > 0
    if kind == "corpus" and route.startswith("cafile"):
        assert stats["crl"] == 1       # the CRL in the cafile is counted


@pytest.mark.parametrize("key", list(certcorpus.corpus()))
def test_get_ca_certs_each_certificate(key):
    """One certificate per context, loaded as DER and as PEM cadata: what
    loads, what is listed as a CA, and what each dict holds."""
    der = certcorpus.corpus()[key]
    for cadata in (der, certcorpus.pem(der)):
        mine, theirs = both()
        assert (outcome(mine.load_verify_locations, cadata=cadata)
                == outcome(theirs.load_verify_locations, cadata=cadata))
        assert_same_listing(mine, theirs)


def test_ca_filter_is_the_stdlibs():
    """Non-CA certificates (end entity, no basicConstraints, v1 not
    self-signed ...) are counted but not listed, exactly as in the stdlib."""
    ders = list(_good_corpus().values())
    mine, theirs = both()
    mine.load_verify_locations(cadata=b"".join(ders))
    theirs.load_verify_locations(cadata=b"".join(ders))
    result = assert_same_listing(mine, theirs)
    stats = result["stats"][0][1]
    assert stats["x509"] == len(ders)
    assert 0 < stats["x509_ca"] < stats["x509"]


def test_load_default_certs_system(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    mine, theirs = both()
    mine.load_default_certs()
    theirs.load_default_certs()
    assert_same_listing(mine, theirs)
    mine, theirs = tlsctx.create_default_context(), ssl.create_default_context()
    assert_same_listing(mine, theirs)


@pytest.fixture(scope="session")
def hashed_capath(workdir):
    """A capath directory named the way OpenSSL looks certificates up."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to build a hashed capath")
    capath = workdir / "capath"
    capath.mkdir()
    for key, der in _good_corpus().items():
        (capath / ("%s.pem" % key)).write_text(certcorpus.pem(der))
    subprocess.run([openssl, "rehash", str(capath)], check=True, capture_output=True)
    assert any(name.endswith(".0") for name in os.listdir(capath))
    return str(capath)


def test_capath_before_lookup(hashed_capath):
    """capath certificates enter the store only when a handshake looks them
    up; connections are not implemented yet, so only the state before any
    look-up is compared (empty store, same counts)."""
    mine, theirs = both()
    mine.load_verify_locations(capath=hashed_capath)
    theirs.load_verify_locations(capath=hashed_capath)
    result = assert_same_listing(mine, theirs)
    assert result["stats"][0][1] == {"x509": 0, "crl": 0, "x509_ca": 0}
    # a capath next to a cafile: only the file's certificates are listed
    der = certcorpus.corpus()["cn_only"]
    mine.load_verify_locations(cadata=der, capath=hashed_capath)
    clear_stdlib_errors()
    theirs.load_verify_locations(cadata=der, capath=hashed_capath)
    assert_same_listing(mine, theirs)


# ---- malformed trust input ---------------------------------------------------


def _malformed_cadata():
    der = certcorpus.corpus()["san_all_kinds"]
    good_pem = certcorpus.pem(der)
    cases = {}
    for cut in (1, 2, 10, len(der) // 2, len(der) - 1):
        cases["der_truncated_%d" % cut] = der[:cut]
    cases["der_good_then_truncated"] = der + der[: len(der) // 2]
    cases["der_good_then_garbage"] = der + b"\x00\x01garbage"
    cases["der_garbage"] = b"\x30\x82\xff\xffgarbage"
    cases["pem_garbage"] = "garbage"
    cases["pem_bad_base64"] = ("-----BEGIN CERTIFICATE-----\n!!!!\n"
                               "-----END CERTIFICATE-----\n")
    cases["pem_truncated"] = good_pem[: len(good_pem) // 2]
    cases["pem_good_then_truncated"] = good_pem + good_pem[: len(good_pem) // 2]
    cases["pem_good_then_garbage"] = good_pem + "garbage\n"
    cases["pem_crl_only"] = certcorpus.crl_pem()
    cases["pem_der_inside"] = certcorpus.pem(der[:-5])
    return cases


@pytest.mark.parametrize("case", sorted(_malformed_cadata()))
def test_malformed_cadata(case):
    cadata = _malformed_cadata()[case]
    mine, theirs = both()
    mine_result = outcome(mine.load_verify_locations, cadata=cadata)
    theirs_result = outcome(theirs.load_verify_locations, cadata=cadata)
    assert mine_result == theirs_result
    if case in TLSCTX_DIVERGENCES:
        # same error; the stdlib kept the certificates before the bad one,
        # tlsctx kept nothing (a failed call leaves the context unchanged)
        assert mine_result[0][0] == "raise"
        assert theirs.cert_store_stats()["x509"] > 0
        assert mine.cert_store_stats() == {"x509": 0, "crl": 0, "x509_ca": 0}
        assert mine.get_ca_certs(True) == []
    else:
        assert_same_listing(mine, theirs)


def test_malformed_cafile(workdir):
    for key, path in _malformed_files(workdir).items():
        mine, theirs = both()
        assert (outcome(mine.load_verify_locations, path)
                == outcome(theirs.load_verify_locations, path)), key
        assert_same_listing(mine, theirs)


def test_nul_bytes_in_subject_alt_name(corpus_files):
    """NUL bytes inside DNS, email and URI names are kept, not cut."""
    mine = _tlsctx._test_decode_cert(corpus_files["san_raw_kinds"])
    theirs = _ssl._test_decode_cert(corpus_files["san_raw_kinds"])
    assert mine == theirs
    assert ("DNS", "nul\x00inside.example") in mine["subjectAltName"]


# ---- module helpers --------------------------------------------------------

TIME_STRINGS = [
    "Jan  5 09:34:43 2018 GMT", "Dec 31 23:59:59 9999 GMT", "Jan  1 00:00:00 1 GMT",
    "Jan  1 00:00:00 1970 GMT", "Feb 29 12:00:00 2024 GMT", "jan  5 09:34:43 2018 GMT",
    "JAN  5 09:34:43 2018 GMT", "Jun  1 12:00:00 2024 GMT", "Jan  5 09:34:61 2018 GMT",
    "Jan  5 09:34:43 2018", "Jan  5 09:34:43 2018 UTC", "Foo  5 09:34:43 2018 GMT",
    "Jan 5 09:34:43 2018 GMT", "Jan  1 00:00:00.123 2024 GMT", "Bad time value", "", "Jan",
    "Feb 30 00:00:00 2023 GMT", "Jan 32 00:00:00 2023 GMT", "Jan  5 09:34:43 2018 GMT ",
    b"Jan  5 09:34:43 2018 GMT", 1234, None, ["Jan"],
]


@pytest.mark.parametrize("value", TIME_STRINGS, ids=repr)
def test_cert_time_to_seconds(value):
    assert outcome(tlsctx.cert_time_to_seconds, value) == outcome(ssl.cert_time_to_seconds, value)


def test_cert_time_to_seconds_on_corpus_times():
    for der in _good_corpus().values():
        mine, theirs = both()
        theirs.load_verify_locations(cadata=der)
        for cert in theirs.get_ca_certs():
            for field in ("notBefore", "notAfter"):
                value = cert[field]
                assert (outcome(tlsctx.cert_time_to_seconds, value)
                        == outcome(ssl.cert_time_to_seconds, value)), value


def _der_inputs():
    der = certcorpus.corpus()["san_all_kinds"]
    return [der, b"", b"x", bytearray(der), memoryview(der), b"\x00" * 47, b"\xff" * 48,
            "not bytes", None, 12]


@pytest.mark.parametrize("value", _der_inputs(), ids=lambda v: type(v).__name__)
def test_der_cert_to_pem_cert(value):
    first, newest = STDLIB_DIFFERENCES["DER_cert_to_PEM_cert", "DER_cert_to_PEM_cert(b'')"]
    if isinstance(value, bytes) and value == b"" and sys.version_info < first:
        assert tlsctx.DER_cert_to_PEM_cert(value) == newest
        return
    assert outcome(tlsctx.DER_cert_to_PEM_cert, value) == outcome(ssl.DER_cert_to_PEM_cert, value)


def _pem_inputs():
    good = ssl.DER_cert_to_PEM_cert(certcorpus.corpus()["san_all_kinds"])
    return [
        good, good.strip(), "  " + good, good + "\n\n  ", good.replace("\n", "\r\n"),
        good[:-30], good.replace("-----END", "-----FIN"), good + "trailing",
        "-----BEGIN CERTIFICATE----------END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nQUJ\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nQUJDé\n-----END CERTIFICATE-----", "",
        good.encode("ascii"), None, 3,
    ]


@pytest.mark.parametrize("index", range(len(_pem_inputs())))
def test_pem_cert_to_der_cert(index):
    value = _pem_inputs()[index]
    assert outcome(tlsctx.PEM_cert_to_DER_cert, value) == outcome(ssl.PEM_cert_to_DER_cert, value)


def test_pem_round_trip_whole_corpus(bundle_files):
    assert tlsctx.PEM_HEADER == ssl.PEM_HEADER
    assert tlsctx.PEM_FOOTER == ssl.PEM_FOOTER
    for kind in BUNDLES:
        if kind not in bundle_files:
            print("no %s bundle here: round trip not checked on it" % kind)
            continue
        for der in bundle_files[kind][1]:
            text = tlsctx.DER_cert_to_PEM_cert(der)
            assert text == ssl.DER_cert_to_PEM_cert(der)
            assert tlsctx.PEM_cert_to_DER_cert(text) == der


# ---- get_default_verify_paths and the environment ---------------------------

_PATHS_SCRIPT = """
import json, ssl, tlsctx
mine = tlsctx.get_default_verify_paths()
theirs = ssl.get_default_verify_paths()
print(json.dumps([list(mine), list(theirs), type(mine).__name__, mine._fields == theirs._fields]))
"""


def _paths_in_subprocess(env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(env_changes)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, "-c", _PATHS_SCRIPT], env=env, cwd=root,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case", ["unset", "file_and_dir", "missing", "file_only", "dir_only",
                                  "swapped", "empty"])
def test_get_default_verify_paths_environment(bundle_files, workdir, case):
    path, _ = _bundle(bundle_files, "corpus")
    directory = str(workdir)
    env = {
        "unset": {},
        "file_and_dir": {"SSL_CERT_FILE": path, "SSL_CERT_DIR": directory},
        "missing": {"SSL_CERT_FILE": directory + "/nope.pem", "SSL_CERT_DIR": directory + "/nope"},
        "file_only": {"SSL_CERT_FILE": path},
        "dir_only": {"SSL_CERT_DIR": directory},
        "swapped": {"SSL_CERT_FILE": directory, "SSL_CERT_DIR": path},
        "empty": {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""},
    }[case]
    mine, theirs, type_name, same_fields = _paths_in_subprocess(env)
    assert mine == theirs
    assert type_name == "DefaultVerifyPaths" and same_fields
    if case == "file_and_dir":
        assert mine[:2] == [path, directory]


# ---- hygiene -----------------------------------------------------------------


def test_error_queue_drained(corpus_files, workdir):
    """tlsctx leaves nothing on the thread's OpenSSL error queue (shared
    with the stdlib: same libcrypto), whether decoding works or raises."""
    peek = _STDLIB_CRYPTO.ERR_peek_error
    peek.restype = ctypes.c_ulong
    clear_stdlib_errors()
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=b"".join(_good_corpus().values()))
    ctx.get_ca_certs()
    ctx.cert_store_stats()
    assert peek() == 0
    for key in ("san_malformed", "san_only_unreadable_utf8", "bad_times", "name_bad_utf8"):
        outcome(_tlsctx._test_decode_cert, corpus_files[key])
        assert peek() == 0, key
    for path in _malformed_files(workdir).values():
        outcome(_tlsctx._test_decode_cert, path)
        assert peek() == 0, path
    bad = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    bad.load_verify_locations(cadata=certcorpus.corpus()["san_only_unreadable_utf8"])
    with pytest.raises(UnicodeDecodeError):
        bad.get_ca_certs()
    assert peek() == 0
