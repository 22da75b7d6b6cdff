"""CPython 3.15's context API (groups, TLS 1.3 cipher suites, signature
algorithms, HAS_PHA / HAS_PSK_TLS13) on every interpreter, at the context
level. Handshakes proving the settings take effect: test_modern_handshake.py.

The stdlib before 3.15 has none of these calls, so they are checked against
CPython 3.15's documentation (Doc/library/ssl.rst, Doc/whatsnew/3.15.rst);
where the running stdlib has them (3.14 for HAS_PHA, 3.15 for the rest) the
tests compare with it directly.
"""
import inspect
import ssl

import pytest

import tlsctx
from helpers import SAME_OPENSSL, assert_same, outcome

LINKED = tlsctx.OPENSSL_VERSION_INFO[:2]

# What 3.15 documents per OpenSSL release. Calls whose OpenSSL API is
# missing raise NotImplementedError, as 3.15 does ("This call requires
# OpenSSL 3.x or later"). tlsctx answers group(), client_sigalg() and
# server_sigalg() on OpenSSL 3.0 too (docs/differences-3.15.md); those are
# connection methods, tested in test_modern_handshake.py.
NEEDS_OPENSSL = {
    "get_groups": (3, 5),
    "get_sigalgs": (3, 4),
}

STDLIB_HAS_315 = hasattr(ssl.SSLContext, "set_groups")


def client():
    return tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)


def server():
    return tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)


def std_client():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def available(name):
    return LINKED >= NEEDS_OPENSSL[name]


# ---- signatures ------------------------------------------------------------

# method -> (a valid argument, the parameter's documented name)
SETTERS = {
    "set_groups": ("secp256r1", "groups"),
    "set_ciphersuites": ("TLS_AES_128_GCM_SHA256", "ciphersuites"),
    "set_client_sigalgs": ("RSA+SHA256", "sigalgs"),
    "set_server_sigalgs": ("RSA+SHA256", "sigalgs"),
}


@pytest.mark.parametrize("name", sorted(SETTERS))
def test_setters_take_one_positional_str(name):
    value, parameter = SETTERS[name]
    method = getattr(client(), name)
    assert method(value) is None
    with pytest.raises(TypeError):
        method()
    with pytest.raises(TypeError):
        method(value, value)
    # positional-only (the "/" in 3.15's signature): no keyword form
    with pytest.raises(TypeError):
        method(**{parameter: value})


@pytest.mark.parametrize("name", ["set_groups", "set_ciphersuites",
                                  "set_client_sigalgs", "set_server_sigalgs"])
@pytest.mark.parametrize("bad", [1, b"secp256r1", None, "secp256r1\0x25519"])
def test_setters_reject_non_str_like_the_stdlib(name, bad):
    # 3.15 parses these with argument clinic's str converter, as it does
    # set_ciphers(cipherlist, /): same exception type and message, with the
    # method's name.
    mine = outcome(getattr(client(), name), bad)
    theirs = outcome(std_client().set_ciphers, bad)
    expected = (theirs[0][0], theirs[0][1], theirs[0][2].replace("set_ciphers", name),
                *theirs[0][3:])
    assert mine == (expected, theirs[1])
    if STDLIB_HAS_315:
        assert_same(getattr(client(), name), getattr(std_client(), name), bad)


def test_get_groups_include_aliases_is_keyword_only():
    ctx = client()
    with pytest.raises(TypeError):
        ctx.get_groups(True)
    with pytest.raises(TypeError):
        ctx.get_groups(bogus=True)
    with pytest.raises(TypeError):
        ctx.get_groups(1, 2)


def test_get_sigalgs_is_module_level_without_arguments():
    assert callable(tlsctx.get_sigalgs)
    with pytest.raises(TypeError):
        tlsctx.get_sigalgs(1)


# ---- get_groups ------------------------------------------------------------

@pytest.mark.skipif(available("get_groups"), reason="OpenSSL >= 3.5 implements get_groups")
def test_get_groups_needs_openssl_35():
    ctx = client()
    for kwargs in ({}, {"include_aliases": True}):
        with pytest.raises(NotImplementedError, match=r"OpenSSL 3\.5"):
            ctx.get_groups(**kwargs)


@pytest.mark.skipif(not available("get_groups"),
                    reason="get_groups needs OpenSSL >= 3.5; tlsctx links %s" % tlsctx.OPENSSL_VERSION)
class TestGetGroups:
    def test_lists_preferred_names_including_post_quantum(self):
        groups = client().get_groups()
        assert isinstance(groups, list) and all(type(g) is str for g in groups)
        assert len(groups) == len(set(groups))
        for name in ("x25519", "secp256r1", "secp384r1", "X25519MLKEM768"):
            assert name in groups
        assert "P-256" not in groups  # an alias

    def test_aliases_on_request(self):
        ctx = client()
        plain = ctx.get_groups()
        with_aliases = ctx.get_groups(include_aliases=True)
        assert set(plain) < set(with_aliases)
        assert "P-256" in with_aliases

    def test_follows_minimum_and_maximum_version(self):
        tls13 = client()
        tls13.minimum_version = tlsctx.TLSVersion.TLSv1_3
        tls12 = client()
        tls12.maximum_version = tlsctx.TLSVersion.TLSv1_2
        everything = set(client().get_groups())
        only13, only12 = set(tls13.get_groups()), set(tls12.get_groups())
        assert only13 <= everything and only12 <= everything
        assert "X25519MLKEM768" in only13 and "X25519MLKEM768" not in only12
        assert "x25519" in only13 and "x25519" in only12

    def test_every_listed_group_can_be_set(self):
        names = client().get_groups(include_aliases=True)
        for name in names:
            ctx = client()
            assert ctx.set_groups(name) is None, name

    def test_unaffected_by_set_groups(self):
        # get_groups lists what is implemented, not what is enabled
        ctx = client()
        before = ctx.get_groups()
        ctx.set_groups("x25519")
        assert ctx.get_groups() == before


# ---- set_groups ------------------------------------------------------------

@pytest.mark.parametrize("groups", ["x25519", "secp256r1:secp384r1", "P-256:X25519",
                                    "ffdhe2048", "x25519:secp256r1:ffdhe3072"])
def test_set_groups_accepts_openssl_group_lists(groups):
    assert client().set_groups(groups) is None
    assert server().set_groups(groups) is None


@pytest.mark.parametrize("groups", ["bogus", "x25519:bogus", "secp256r1:"])
def test_set_groups_rejects_unknown_groups(groups):
    mine = outcome(client().set_groups, groups)
    assert mine[0][:2] == ("raise", "SSLError")
    if STDLIB_HAS_315:
        assert_same(client().set_groups, std_client().set_groups, groups)


def test_set_groups_error_is_an_sslerror_with_the_queue_drained():
    ctx = client()
    with pytest.raises(tlsctx.SSLError) as info:
        ctx.set_groups("bogus")
    assert isinstance(info.value, OSError)
    # nothing of it leaks into the next call's error
    with pytest.raises(tlsctx.SSLError) as again:
        ctx.set_ciphersuites("bogus")
    assert "group" not in str(again.value)


def test_set_groups_post_quantum_when_openssl_has_it():
    ctx = client()
    result = outcome(ctx.set_groups, "X25519MLKEM768")
    if LINKED >= (3, 5):
        assert result == (("ok", None), [])
    else:
        # OpenSSL 3.0 has no ML-KEM: an unknown group there
        assert result[0][:2] == ("raise", "SSLError")


# ---- set_ciphersuites ------------------------------------------------------

TLS13_SUITES = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]


@pytest.mark.parametrize("suites", TLS13_SUITES + [":".join(TLS13_SUITES),
                                                   "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"])
def test_set_ciphersuites_accepts_tls13_suites(suites):
    assert client().set_ciphersuites(suites) is None
    assert server().set_ciphersuites(suites) is None


@pytest.mark.parametrize("suites", ["bogus", "ECDHE-RSA-AES128-GCM-SHA256", "AESGCM"])
def test_set_ciphersuites_no_suite_selected_is_sslerror(suites):
    # 3.15: "If no cipher can be selected ... an SSLError will be raised."
    # TLS 1.2 names and cipher-string keywords select nothing here.
    mine = outcome(client().set_ciphersuites, suites)
    assert mine[0][:2] == ("raise", "SSLError")
    if STDLIB_HAS_315:
        assert_same(client().set_ciphersuites, std_client().set_ciphersuites, suites)


# ---- set_client_sigalgs / set_server_sigalgs -------------------------------

SIGALG_LISTS = ["RSA+SHA256", "rsa_pss_rsae_sha256", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha384",
                "ECDSA+SHA384:RSA-PSS+SHA256", "ed25519:rsa_pkcs1_sha256"]


@pytest.mark.parametrize("method", ["set_client_sigalgs", "set_server_sigalgs"])
@pytest.mark.parametrize("sigalgs", SIGALG_LISTS)
def test_set_sigalgs_accepts_openssl_lists(method, sigalgs):
    for ctx in (client(), server()):
        assert getattr(ctx, method)(sigalgs) is None


@pytest.mark.parametrize("method", ["set_client_sigalgs", "set_server_sigalgs"])
@pytest.mark.parametrize("sigalgs", ["bogus", "RSA+SHA256:bogus", "RSA+NOSUCHHASH", ""])
def test_set_sigalgs_rejects_unknown(method, sigalgs):
    mine = outcome(getattr(client(), method), sigalgs)
    assert mine[0][:2] == ("raise", "SSLError")
    if STDLIB_HAS_315:
        assert_same(getattr(client(), method), getattr(std_client(), method), sigalgs)


# ---- get_sigalgs -----------------------------------------------------------

@pytest.mark.skipif(available("get_sigalgs"), reason="OpenSSL >= 3.4 implements get_sigalgs")
def test_get_sigalgs_needs_openssl_34():
    with pytest.raises(NotImplementedError, match=r"OpenSSL 3\.4"):
        tlsctx.get_sigalgs()


@pytest.mark.skipif(not available("get_sigalgs"),
                    reason="get_sigalgs needs OpenSSL >= 3.4; tlsctx links %s" % tlsctx.OPENSSL_VERSION)
def test_get_sigalgs_lists_names_usable_in_both_setters():
    names = tlsctx.get_sigalgs()
    assert isinstance(names, list) and all(type(n) is str and n for n in names)
    assert len(names) == len(set(names))
    for name in ("ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256", "ed25519"):
        assert name in names
    for name in names:
        assert client().set_client_sigalgs(name) is None, name
        assert client().set_server_sigalgs(name) is None, name
    if STDLIB_HAS_315 and SAME_OPENSSL:
        assert names == ssl.get_sigalgs()


# ---- constants -------------------------------------------------------------

@pytest.mark.parametrize("name", ["HAS_PHA", "HAS_PSK_TLS13", "HAS_PSK"])
def test_feature_flags(name):
    value = getattr(tlsctx, name)
    assert type(value) is bool
    # OpenSSL 3 (built with PSK, as here) supports TLS 1.3 post-handshake
    # authentication and external PSKs: 3.14/3.15 say True for it.
    assert value is True
    if hasattr(ssl, name) and SAME_OPENSSL:
        assert value == getattr(ssl, name)


def test_has_psk_tls13_follows_has_psk():
    assert tlsctx.HAS_PSK_TLS13 <= tlsctx.HAS_PSK


# ---- the whole 3.15 context API against the real 3.15 stdlib -----------------

def std_server():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)


def both_contexts(protocol):
    """(tlsctx, stdlib) fresh contexts for "client" or "server"."""
    return (client(), std_client()) if protocol == "client" else (server(), std_server())


# good and bad values of every argument, as the 3.15 stdlib sees them
GROUP_INPUTS = ["x25519", "secp256r1:secp384r1", "P-256:X25519", "ffdhe2048",
                "x25519:secp256r1:ffdhe3072", "X25519MLKEM768", "?x25519:?bogus", "-x25519",
                "bogus", "x25519:bogus", "secp256r1:", "", ":", "X25519:x25519", "DEFAULT",
                "x" * 5000, 1, None, b"x25519", "x25519\0", ["x25519"]]
SUITE_INPUTS = TLS13_SUITES + [":".join(TLS13_SUITES), "TLS_AES_128_CCM_SHA256",
                               "TLS_AES_128_GCM_SHA256:bogus", "bogus", "", ":",
                               "ECDHE-RSA-AES128-GCM-SHA256", "AESGCM", "DEFAULT", 1, None,
                               b"TLS_AES_128_GCM_SHA256"]
SIGALG_INPUTS = SIGALG_LISTS + ["bogus", "RSA+SHA256:bogus", "RSA+NOSUCHHASH", "", ":",
                                "rsa_pss_pss_sha256", "ecdsa_secp384r1_sha384+", "RSA",
                                "RSA+SHA256:RSA+SHA256", "?ed448:?bogus", 1, None, b"RSA+SHA256"]

needs_315_stdlib = pytest.mark.skipif(
    not (STDLIB_HAS_315 and SAME_OPENSSL),
    reason="compares with the stdlib's 3.15 context API on the same OpenSSL: the running "
           "stdlib is %s with %s" % (".".join(map(str, __import__("sys").version_info[:3])),
                                     ssl.OPENSSL_VERSION))


def ciphers_view(ctx):
    return [(c["name"], c["protocol"]) for c in ctx.get_ciphers()]


@needs_315_stdlib
@pytest.mark.parametrize("protocol", ["client", "server"])
@pytest.mark.parametrize("groups", GROUP_INPUTS, ids=repr)
def test_set_groups_like_the_315_stdlib(protocol, groups):
    mine, theirs = both_contexts(protocol)
    assert outcome(mine.set_groups, groups) == outcome(theirs.set_groups, groups)
    if LINKED >= NEEDS_OPENSSL["get_groups"]:
        for aliases in (False, True):
            assert (mine.get_groups(include_aliases=aliases)
                    == theirs.get_groups(include_aliases=aliases))


@needs_315_stdlib
@pytest.mark.parametrize("kwargs", [{}, {"include_aliases": False}, {"include_aliases": True},
                                    {"include_aliases": 1}, {"include_aliases": None},
                                    {"include_aliases": "yes"}, {"bogus": True}])
@pytest.mark.parametrize("bounds", [(None, None), ("TLSv1_3", None), (None, "TLSv1_2"),
                                    ("TLSv1_2", "TLSv1_2")])
def test_get_groups_like_the_315_stdlib(kwargs, bounds):
    mine, theirs = both_contexts("client")
    for ctx, module in ((mine, tlsctx), (theirs, ssl)):
        if bounds[0]:
            ctx.minimum_version = module.TLSVersion[bounds[0]]
        if bounds[1]:
            ctx.maximum_version = module.TLSVersion[bounds[1]]
    assert outcome(mine.get_groups, **kwargs) == outcome(theirs.get_groups, **kwargs)
    assert outcome(mine.get_groups, True) == outcome(theirs.get_groups, True)


@needs_315_stdlib
@pytest.mark.parametrize("protocol", ["client", "server"])
@pytest.mark.parametrize("suites", SUITE_INPUTS, ids=repr)
def test_set_ciphersuites_like_the_315_stdlib(protocol, suites):
    mine, theirs = both_contexts(protocol)
    assert outcome(mine.set_ciphersuites, suites) == outcome(theirs.set_ciphersuites, suites)
    assert ciphers_view(mine) == ciphers_view(theirs)


@needs_315_stdlib
@pytest.mark.parametrize("method", ["set_client_sigalgs", "set_server_sigalgs"])
@pytest.mark.parametrize("protocol", ["client", "server"])
@pytest.mark.parametrize("sigalgs", SIGALG_INPUTS, ids=repr)
def test_set_sigalgs_like_the_315_stdlib(method, protocol, sigalgs):
    mine, theirs = both_contexts(protocol)
    assert outcome(getattr(mine, method), sigalgs) == outcome(getattr(theirs, method), sigalgs)


@needs_315_stdlib
def test_get_sigalgs_and_flags_like_the_315_stdlib():
    assert outcome(tlsctx.get_sigalgs) == outcome(ssl.get_sigalgs)
    assert outcome(tlsctx.get_sigalgs, 1) == outcome(ssl.get_sigalgs, 1)
    for name in ("HAS_PHA", "HAS_PSK_TLS13", "HAS_PSK"):
        assert getattr(tlsctx, name) is getattr(ssl, name), name


@needs_315_stdlib
@pytest.mark.parametrize("name", ["set_groups", "get_groups", "set_ciphersuites",
                                  "set_client_sigalgs", "set_server_sigalgs"])
def test_315_method_signatures_like_the_stdlib(name):
    mine, theirs = getattr(client(), name), getattr(std_client(), name)
    for args, kwargs in (((), {}), (("x25519", "x25519"), {}), ((), {"groups": "x25519"}),
                         ((), {"ciphersuites": "TLS_AES_128_GCM_SHA256"}),
                         ((), {"sigalgs": "RSA+SHA256"}), ((), {"include_aliases": True})):
        assert outcome(mine, *args, **kwargs)[0][:2] == outcome(theirs, *args, **kwargs)[0][:2], \
            (args, kwargs)


# ---- which OpenSSL ---------------------------------------------------------

def test_openssl_version_describes_the_linked_library():
    # OpenSSL 3 numbers versions major.minor.patch; decoded as the stdlib
    # does, the patch lands in the fourth field (3.0.19 -> (3, 0, 0, 19, 0))
    major, minor, fix, patch, status = tlsctx.OPENSSL_VERSION_INFO
    assert fix == 0
    assert tlsctx.OPENSSL_VERSION.startswith("OpenSSL %d.%d.%d " % (major, minor, patch))
    assert tlsctx.OPENSSL_VERSION_NUMBER >> 28 == major
    # built against headers no newer than the library it runs with
    assert tlsctx._OPENSSL_API_VERSION[:2] <= (major, minor)


@pytest.mark.same_openssl
def test_openssl_version_matches_stdlib_when_same_library():
    assert tlsctx.OPENSSL_VERSION == ssl.OPENSSL_VERSION
    assert tlsctx.OPENSSL_VERSION_INFO == ssl.OPENSSL_VERSION_INFO
    assert tlsctx.OPENSSL_VERSION_NUMBER == ssl.OPENSSL_VERSION_NUMBER


def test_both_libraries_work_in_one_process():
    # with a privately linked OpenSSL (the 3.5 build) the stdlib keeps its own
    std = std_client()
    std.set_ciphers("ECDHE+AESGCM")
    mine = client()
    mine.set_groups("x25519:secp256r1")
    assert ssl.OPENSSL_VERSION.startswith("OpenSSL ")
    assert (tlsctx.OPENSSL_VERSION == ssl.OPENSSL_VERSION) == SAME_OPENSSL


def test_methods_documented_by_315_exist_on_sslcontext():
    for name in ("set_groups", "get_groups", "set_ciphersuites", "set_client_sigalgs",
                 "set_server_sigalgs"):
        assert callable(getattr(tlsctx.SSLContext, name))
    assert inspect.isbuiltin(tlsctx.get_sigalgs)


def test_python_m_tlsctx_names_both_openssl_libraries():
    import os
    import platform
    import subprocess
    import sys

    import tlsctx.__main__

    root = os.path.dirname(os.path.dirname(os.path.abspath(tlsctx.__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-m", "tlsctx"], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "tlsctx OpenSSL: %s " % tlsctx.OPENSSL_VERSION in out
    assert "stdlib OpenSSL: %s" % ssl.OPENSSL_VERSION in out
    assert tlsctx.__file__ in out
    assert "interpreter: %s %s (%s)" % (platform.python_implementation(),
                                        sys.version.split()[0], sys.executable) in out
    # the interpreter's build choices, and which differ from CPython's defaults
    differ = []
    if ssl._DEFAULT_CIPHERS != tlsctx.__main__.CPYTHON_CIPHERS:
        differ.append("cipher defaults")
    if ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).minimum_version != ssl.TLSVersion.TLSv1_2:
        differ.append("minimum version")
    assert ("build options that differ from CPython's defaults: %s; tlsctx follows the "
            "interpreter's" % (", ".join(differ) or "none")) in out
