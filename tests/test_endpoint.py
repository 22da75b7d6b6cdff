"""The endpoint half of SSLContext (issue 5), compared with the stdlib's ssl on
the same inputs: load_cert_chain from files, ciphers, ALPN/NPN, curves, DH
parameters, session statistics, tickets, key logging, SNI and PSK callbacks.

Callbacks only fire during a handshake; until tlsctx has connections these
tests check what the context shows now (stored values, errors, collection).
"""
import gc
import os
import pathlib
import ssl
import stat
import sys
import warnings
import weakref

import pytest
import trustme
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dh
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import tlsctx
from helpers import outcome, strip_location

PY313 = sys.version_info >= (3, 13)

# ---- where tlsctx and the running stdlib differ, on purpose or by age ---------------
#
# Older stdlibs (the target is 3.13's behaviour on every interpreter):
#   * set_psk_client_callback / set_psk_server_callback arrived in 3.13: before
#     it, tlsctx is checked against 3.13's answers, recorded in PSK_313 below.
#   * 3.10's set_ecdh_curve went through EC_KEY_new_by_curve_name, so names that
#     are groups but not EC curves (X25519, X448) failed, and non-groups gave an
#     EC error; 3.11+ use SSL_CTX_set1_groups like tlsctx.
#     Early 3.11 releases (Debian 12's 3.11.2) still had the EC_KEY path, so
#     the running stdlib's own answer for X25519 says which it is.


def _stdlib_ecdh_takes_only_ec_curves():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.set_ecdh_curve("X25519")
    except ssl.SSLError:
        return True
    return False


OLD_STDLIB_ECDH = {"X25519", "X448", "RSA"} if _stdlib_ecdh_takes_only_ec_curves() else set()
# Deliberate differences from 3.13 (style rules: setters reject deletion and
# validate before changing anything; key logs hold secrets):
#   * `del ctx.sni_callback / num_tickets / keylog_filename` raise AttributeError
#     (3.13: TypeError, and a crash for keylog_filename).
#   * a rejected sni_callback or keylog_filename keeps the previous value
#     (3.13 clears it first).
#   * new key-log files are created 0600 (3.13: 0666 & ~umask).
#   * load_cert_chain() without certfile or certdata names both in its message.
DELETABLE = ["sni_callback", "num_tickets", "keylog_filename"]


def pair(protocol_name):
    """A fresh (tlsctx, stdlib) pair of contexts for the same protocol."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return (tlsctx.SSLContext(getattr(tlsctx, protocol_name)),
                ssl.SSLContext(getattr(ssl, protocol_name)))


PROTOCOLS = ["PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "PROTOCOL_TLS"]


def same_on_contexts(call, protocol="PROTOCOL_TLS_SERVER"):
    """call(ctx) on both contexts: same outcome; returns the pair for more checks."""
    mine, theirs = pair(protocol)
    result = outcome(call, mine)
    assert result == outcome(call, theirs)
    return mine, theirs, result


# ---- load_cert_chain from files -------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    other = ca.issue_cert("other")
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    paths = {}

    def write(name, data):
        paths[name] = str(d / name)
        (d / name).write_bytes(data)

    write("chain", b"".join(p.bytes() for p in leaf.cert_chain_pems))
    write("key", leaf.private_key_pem.bytes())
    write("combined", leaf.private_key_and_cert_chain_pem.bytes())
    write("otherkey", other.private_key_pem.bytes())
    write("enc", key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                   ser.BestAvailableEncryption(b"secret")))
    write("text", b"just text\n")
    paths["missing"] = str(d / "missing.pem")
    paths["dir"] = str(d)
    return paths


def _raise():
    raise ZeroDivisionError("no password today")


LOAD_CASES = {
    "chain+key": lambda f: ((f["chain"], f["key"]), {}),
    "combined": lambda f: ((f["combined"],), {}),
    "keywords": lambda f: ((), {"certfile": f["chain"], "keyfile": f["key"], "password": None}),
    "pathlike": lambda f: ((pathlib.Path(f["chain"]), pathlib.Path(f["key"])), {}),
    "bytes-path": lambda f: ((os.fsencode(f["chain"]), os.fsencode(f["key"])), {}),
    "missing-cert": lambda f: ((f["missing"],), {}),
    "missing-key": lambda f: ((f["chain"], f["missing"]), {}),
    "dir-cert": lambda f: ((f["dir"],), {}),
    "dir-key": lambda f: ((f["chain"], f["dir"]), {}),
    "not-pem-cert": lambda f: ((f["text"],), {}),
    "not-pem-key": lambda f: ((f["chain"], f["text"]), {}),
    "cert-without-key": lambda f: ((f["chain"],), {}),
    "key-as-cert": lambda f: ((f["key"],), {}),
    "mismatch": lambda f: ((f["chain"], f["otherkey"]), {}),
    "pw-str": lambda f: ((f["chain"], f["enc"], "secret"), {}),
    "pw-bytes": lambda f: ((f["chain"], f["enc"], b"secret"), {}),
    "pw-bytearray": lambda f: ((f["chain"], f["enc"], bytearray(b"secret")), {}),
    "pw-callable-str": lambda f: ((f["chain"], f["enc"], lambda: "secret"), {}),
    "pw-callable-bytes": lambda f: ((f["chain"], f["enc"], lambda: b"secret"), {}),
    "pw-callable-bytearray": lambda f: ((f["chain"], f["enc"], lambda: bytearray(b"secret")), {}),
    "pw-wrong": lambda f: ((f["chain"], f["enc"], "wrong"), {}),
    "pw-empty": lambda f: ((f["chain"], f["enc"], ""), {}),
    "pw-callable-raises": lambda f: ((f["chain"], f["enc"], _raise), {}),
    "pw-callable-int": lambda f: ((f["chain"], f["enc"], lambda: 7), {}),
    "pw-callable-none": lambda f: ((f["chain"], f["enc"], lambda: None), {}),
    "pw-int": lambda f: ((f["chain"], f["enc"], 7), {}),
    "pw-memoryview": lambda f: ((f["chain"], f["enc"], memoryview(b"secret")), {}),
    "pw-1024": lambda f: ((f["chain"], f["enc"], "x" * 1024), {}),
    "pw-1025": lambda f: ((f["chain"], f["enc"], "x" * 1025), {}),
    "pw-callable-1025": lambda f: ((f["chain"], f["enc"], lambda: b"x" * 1025), {}),
    "pw-surrogate": lambda f: ((f["chain"], f["enc"], "\ud800"), {}),
    "pw-unused-bad-callable": lambda f: ((f["chain"], f["key"], _raise), {}),
    "pw-unused-too-long": lambda f: ((f["chain"], f["key"], "x" * 2000), {}),
    "certfile-none": lambda f: ((None,), {}),
    "certfile-int": lambda f: ((42,), {}),
    "keyfile-int": lambda f: ((f["chain"], 42), {}),
    "certfile-nul": lambda f: (("a\0b",), {}),
    "too-many": lambda f: ((f["chain"], None, None, None), {}),
    "unknown-keyword": lambda f: ((f["chain"],), {"spam": 1}),
}


@pytest.mark.parametrize("name", sorted(LOAD_CASES))
def test_load_cert_chain_like_stdlib(files, name):
    args, kwargs = LOAD_CASES[name](files)
    mine, theirs = pair("PROTOCOL_TLS_SERVER")
    result = outcome(mine.load_cert_chain, *args, **kwargs)
    expected = outcome(theirs.load_cert_chain, *args, **kwargs)
    if name == "too-many":
        # the stdlib counts 3 positional parameters, tlsctx the same 3 before
        # its keyword-only ones: only the wording of the count may differ
        assert result[0][:2] == expected[0][:2] == ("raise", "TypeError")
        return
    assert result == expected


def test_load_cert_chain_without_arguments_names_both_sources():
    mine, theirs = pair("PROTOCOL_TLS_SERVER")
    with pytest.raises(TypeError) as std:
        theirs.load_cert_chain()
    with pytest.raises(TypeError) as own:
        mine.load_cert_chain()
    assert "certfile" in str(std.value)
    assert str(own.value) == "load_cert_chain() missing required argument: certfile or certdata"


def test_failed_load_keeps_the_previous_chain(files):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
    assert ctx._loaded_chain() == (None, [], None)
    ctx.load_cert_chain(files["chain"], files["key"])
    loaded = ctx._loaded_chain()
    for args in [(files["chain"], files["otherkey"]), (files["chain"], files["enc"], "wrong"),
                 (files["chain"], files["missing"]), (files["text"],)]:
        with pytest.raises((tlsctx.SSLError, OSError)):
            ctx.load_cert_chain(*args)
        assert ctx._loaded_chain() == loaded


def test_password_callable_called_like_stdlib(files):
    counts = []
    for ctx in pair("PROTOCOL_TLS_SERVER"):
        calls = []
        ctx.load_cert_chain(files["chain"], files["enc"], lambda: calls.append(1) or "secret")
        counts.append(len(calls))
    assert counts[0] == counts[1] >= 1


# ---- ciphers ---------------------------------------------------------------------------

CIPHER_STRINGS = ["ALL", "DEFAULT", "ECDHE+AESGCM", "AES256-SHA", "@SECLEVEL=0:ALL:eNULL",
                  "BOGUS", "", "!ALL", "a\0b", 5, b"ALL", None, "HIGH:!aNULL", "PSK"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_default_ciphers_identical(protocol):
    mine, theirs = pair(protocol)
    assert mine.get_ciphers() == theirs.get_ciphers()


@pytest.mark.same_openssl
@pytest.mark.parametrize("ciphers", CIPHER_STRINGS, ids=repr)
def test_set_ciphers_like_stdlib(ciphers):
    mine, theirs, result = same_on_contexts(lambda c: c.set_ciphers(ciphers))
    assert mine.get_ciphers() == theirs.get_ciphers()


def test_no_cipher_error_has_no_library():
    mine, theirs = pair("PROTOCOL_TLS_CLIENT")
    for ctx in (mine, theirs):
        with pytest.raises(ssl.SSLError) as info:
            ctx.set_ciphers("BOGUS")
        assert info.value.args == ("No cipher can be selected.",)
    assert outcome(mine.set_ciphers, "x")[0][3:5] == (None, None)


def test_get_ciphers_dict_shape():
    mine, _ = pair("PROTOCOL_TLS_CLIENT")
    mine.set_ciphers("ALL:@SECLEVEL=0")
    keys = {"id", "name", "protocol", "description", "strength_bits", "alg_bits", "aead",
            "symmetric", "digest", "kea", "auth"}
    ciphers = mine.get_ciphers()
    assert ciphers and all(set(c) == keys for c in ciphers)


# ---- ALPN and NPN ----------------------------------------------------------------------

PROTOCOL_LISTS = [["h2", "http/1.1"], [], ["x" * 255], ["x" * 256], [""], "h2",
                  [b"h2"], ["\u00e9"], 5, None, ("spdy/3",)]


@pytest.mark.parametrize("protocols", PROTOCOL_LISTS, ids=repr)
def test_set_alpn_protocols_like_stdlib(protocols):
    same_on_contexts(lambda c: c.set_alpn_protocols(protocols))


@pytest.mark.parametrize("wire", [b"\x02h2", bytearray(b"\x02h2"), memoryview(b"\x02h2"), b"",
                                  "\x02h2", ["h2"], None, 5], ids=repr)
def test_private_set_alpn_protocols_like_stdlib(wire):
    same_on_contexts(lambda c: c._set_alpn_protocols(wire), "PROTOCOL_TLS_CLIENT")


@pytest.mark.parametrize("protocols", PROTOCOL_LISTS, ids=repr)
def test_set_npn_protocols_like_stdlib(protocols):
    mine, theirs = pair("PROTOCOL_TLS_SERVER")
    result = outcome(mine.set_npn_protocols, protocols)
    expected = outcome(theirs.set_npn_protocols, protocols)
    assert result == expected
    assert result[1] == [("DeprecationWarning", "ssl NPN is deprecated, use ALPN instead")]


# ---- curves and DH parameters ---------------------------------------------------------

CURVES = ["prime256v1", "secp384r1", "secp521r1", "secp256k1", "X25519", "X448", "RSA",
          "foo", "", b"prime256v1", pathlib.Path("secp384r1"), 5, None, "a\0b"]


@pytest.mark.parametrize("curve", CURVES, ids=repr)
def test_set_ecdh_curve_like_stdlib(curve):
    mine, theirs = pair("PROTOCOL_TLS_SERVER")
    result = outcome(mine.set_ecdh_curve, curve)
    if curve in OLD_STDLIB_ECDH:
        # 3.13's answer (see the table at the top)
        assert result[0][0] == ("ok" if curve != "RSA" else "raise")
        return
    assert result == outcome(theirs.set_ecdh_curve, curve)


def ffdhe2048_prime():
    """RFC 7919's ffdhe2048 prime, from its definition through e."""
    guard = 64
    total, term, k = 0, 1 << (1918 + guard), 0
    while term:
        total += term
        k += 1
        term //= k
    return 2 ** 2048 - 2 ** 1984 + ((total >> guard) + 560316) * 2 ** 64 - 1


@pytest.fixture(scope="module")
def dh_files(tmp_path_factory, files):
    d = tmp_path_factory.mktemp("dh")
    p = ffdhe2048_prime()
    assert pow(2, p - 1, p) == 1
    with warnings.catch_warnings():
        # cryptography deprecates finite-field DH; OpenSSL still loads it
        warnings.simplefilter("ignore")
        good = dh.DHParameterNumbers(p, 2).parameters()
        small = dh.generate_parameters(generator=2, key_size=512)
    out = {}
    for name, params in [("good", good), ("small", small)]:
        out[name] = str(d / (name + ".pem"))
        (d / (name + ".pem")).write_bytes(
            params.parameter_bytes(ser.Encoding.PEM, ser.ParameterFormat.PKCS3))
    pem = (d / "good.pem").read_bytes()
    lines = pem.splitlines(keepends=True)
    (d / "corrupt.pem").write_bytes(lines[0] + b"!!!!notbase64!!!!\n" + lines[-1])
    (d / "truncated.pem").write_bytes(b"".join(lines[:3] + lines[-1:]))
    out["corrupt"] = str(d / "corrupt.pem")
    out["truncated"] = str(d / "truncated.pem")
    out["cert"] = files["chain"]
    out["missing"] = str(d / "missing.pem")
    out["dir"] = str(d)
    out["pathlike"] = pathlib.Path(out["good"])
    out["bytes"] = os.fsencode(out["good"])
    out["int"] = 5
    out["nul"] = "a\0b"
    out["none"] = None
    return out


@pytest.mark.parametrize("name", ["good", "small", "corrupt", "truncated", "cert", "missing",
                                  "dir", "pathlike", "bytes", "int", "nul", "none"])
def test_load_dh_params_like_stdlib(dh_files, name):
    same_on_contexts(lambda c: c.load_dh_params(dh_files[name]))


# ---- session statistics and tickets -----------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_session_stats_and_num_tickets_defaults(protocol):
    mine, theirs = pair(protocol)
    assert mine.session_stats() == theirs.session_stats()
    assert list(mine.session_stats()) == list(theirs.session_stats())
    assert mine.num_tickets == theirs.num_tickets


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", [0, 1, 7, 2 ** 31, -1, "2", 2.0, 2 ** 70, True, None],
                         ids=repr)
def test_set_num_tickets_like_stdlib(protocol, value):
    mine, theirs, _ = same_on_contexts(lambda c: setattr(c, "num_tickets", value), protocol)
    assert mine.num_tickets == theirs.num_tickets


# ---- keylog_filename ----------------------------------------------------------------

def keylog_pair(tmp_path, value_for):
    """Set keylog_filename on both (each with its own file); outcomes must match."""
    mine, theirs = pair("PROTOCOL_TLS_CLIENT")
    results = []
    for tag, ctx in (("mine", mine), ("std", theirs)):
        value = value_for(tmp_path / tag)
        results.append(outcome(setattr, ctx, "keylog_filename", value))
    # an OSError names a different file on each side: compare without it
    clean = [(r[0][:2] + (strip_location(r[0][2]).replace("/mine", "/X").replace("/std", "/X"),)
              + r[0][3:] if r[0][0] == "raise" else r[0], r[1]) for r in results]
    assert clean[0] == clean[1]
    return mine, theirs, results[0]


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike"])
def test_keylog_new_file_header_and_mode(tmp_path, kind):
    convert = {"str": str, "bytes": os.fsencode, "pathlike": pathlib.Path}[kind]
    for tag in ("mine", "std"):
        (tmp_path / tag).mkdir()
    mine, theirs, result = keylog_pair(tmp_path, lambda d: convert(str(d / "keys.log")))
    assert result[0] == ("ok", None)
    assert type(mine.keylog_filename) is type(theirs.keylog_filename)
    assert os.fsdecode(mine.keylog_filename) == str(tmp_path / "mine" / "keys.log")
    assert ((tmp_path / "mine" / "keys.log").read_bytes()
            == (tmp_path / "std" / "keys.log").read_bytes())
    # new key logs are for the owner's eyes only (a deliberate difference)
    assert stat.S_IMODE(os.stat(tmp_path / "mine" / "keys.log").st_mode) == 0o600


def test_keylog_existing_file_appended_and_mode_kept(tmp_path):
    for tag in ("mine", "std"):
        (tmp_path / tag).mkdir()
        log = tmp_path / tag / "keys.log"
        log.write_bytes(b"CLIENT_RANDOM earlier line\n")
        os.chmod(log, 0o640)
    mine, theirs, result = keylog_pair(tmp_path, lambda d: str(d / "keys.log"))
    assert result[0] == ("ok", None)
    assert ((tmp_path / "mine" / "keys.log").read_bytes()
            == (tmp_path / "std" / "keys.log").read_bytes() == b"CLIENT_RANDOM earlier line\n")
    assert stat.S_IMODE(os.stat(tmp_path / "mine" / "keys.log").st_mode) == 0o640


@pytest.mark.parametrize("case", ["int", "dir", "no-parent", "nul", "none"])
def test_keylog_rejections_like_stdlib(tmp_path, case):
    for tag in ("mine", "std"):
        (tmp_path / tag).mkdir()
    value_for = {
        "int": lambda d: 5,
        "dir": lambda d: str(d),
        "no-parent": lambda d: str(d / "missing" / "keys.log"),
        "nul": lambda d: "a\0b",
        "none": lambda d: None,
    }[case]
    mine, theirs, result = keylog_pair(tmp_path, value_for)
    assert mine.keylog_filename is None and theirs.keylog_filename is None


def test_keylog_rejection_keeps_previous_file(tmp_path):
    ctx, _ = pair("PROTOCOL_TLS_CLIENT")
    ctx.keylog_filename = str(tmp_path / "keys.log")
    with pytest.raises(OSError):
        ctx.keylog_filename = str(tmp_path / "missing" / "keys.log")
    assert ctx.keylog_filename == str(tmp_path / "keys.log")  # 3.13 would say None
    ctx.keylog_filename = None
    assert ctx.keylog_filename is None


@pytest.mark.parametrize("attribute", DELETABLE)
def test_attributes_cannot_be_deleted(attribute):
    ctx, _ = pair("PROTOCOL_TLS_SERVER")
    # 3.14's words for the setters it generates (tests/test_parity.py
    # compares every attribute's message with the stdlib's)
    with pytest.raises(AttributeError, match="cannot delete attribute|objects cannot be deleted"):
        delattr(ctx, attribute)


# ---- SNI -------------------------------------------------------------------------------

def sni_cb(sslobj, name, ctx):
    return None


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", [None, sni_cb, print, 5, "callback"], ids=repr)
def test_sni_callback_like_stdlib(protocol, value):
    mine, theirs, result = same_on_contexts(lambda c: setattr(c, "sni_callback", value), protocol)
    assert mine.sni_callback is theirs.sni_callback


def test_sni_rejection_keeps_previous_callback():
    ctx, _ = pair("PROTOCOL_TLS_SERVER")
    ctx.sni_callback = sni_cb
    with pytest.raises(TypeError, match="not a callable object"):
        ctx.sni_callback = 5
    assert ctx.sni_callback is sni_cb  # 3.13 would say None


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", [None, sni_cb, 5], ids=repr)
def test_set_servername_callback_like_stdlib(protocol, value):
    mine, theirs, result = same_on_contexts(lambda c: c.set_servername_callback(value),
                                            protocol)
    assert callable(mine.sni_callback) == callable(theirs.sni_callback)


# ---- PSK ------------------------------------------------------------------------------

def psk_cb(*args):
    return b"key"


# 3.13's answers, checked against the stdlib where it has the methods and used
# as the expectation where it does not (3.10-3.12).
PSK_313 = [
    ("client", "PROTOCOL_TLS_CLIENT", (psk_cb,), {}, ("ok", None)),
    ("client", "PROTOCOL_TLS_CLIENT", (None,), {}, ("ok", None)),
    ("client", "PROTOCOL_TLS_CLIENT", (), {"callback": psk_cb}, ("ok", None)),
    ("client", "PROTOCOL_TLS", (psk_cb,), {}, ("ok", None)),
    ("client", "PROTOCOL_TLS_CLIENT", (5,), {},
     ("raise", "TypeError", "callback must be callable", None, None, None)),
    ("client", "PROTOCOL_TLS_CLIENT", (), {},
     ("raise", "TypeError",
      "set_psk_client_callback() missing required argument 'callback' (pos 1)",
      None, None, None)),
    ("client", "PROTOCOL_TLS_SERVER", (psk_cb,), {},
     ("raise", "SSLError", "Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context",
      None, None, 0)),
    ("client", "PROTOCOL_TLS_SERVER", (5,), {},
     ("raise", "SSLError", "Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context",
      None, None, 0)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb,), {}, ("ok", None)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb, "hint"), {}, ("ok", None)),
    ("server", "PROTOCOL_TLS_SERVER", (None, None), {}, ("ok", None)),
    ("server", "PROTOCOL_TLS_SERVER", (), {"callback": psk_cb, "identity_hint": "h"},
     ("ok", None)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb, "x" * 256), {}, ("ok", None)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb, "x" * 257), {},
     ("raise", "ValueError", "failed to set identity hint", None, None, None)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb, 5), {},
     ("raise", "TypeError",
      "set_psk_server_callback() argument 'identity_hint' must be str or None, not int",
      None, None, None)),
    ("server", "PROTOCOL_TLS_SERVER", (psk_cb, "a\0b"), {},
     ("raise", "ValueError", "embedded null character", None, None, None)),
    ("server", "PROTOCOL_TLS_SERVER", (5,), {},
     ("raise", "TypeError", "callback must be callable", None, None, None)),
    ("server", "PROTOCOL_TLS_SERVER", (5, "x" * 200), {},
     ("raise", "TypeError", "callback must be callable", None, None, None)),
    ("server", "PROTOCOL_TLS_CLIENT", (psk_cb,), {},
     ("raise", "SSLError", "Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context",
      None, None, 0)),
    ("server", "PROTOCOL_TLS_CLIENT", (psk_cb, 5), {},
     ("raise", "TypeError",
      "set_psk_server_callback() argument 'identity_hint' must be str or None, not int",
      None, None, None)),
]


@pytest.mark.parametrize("side,protocol,args,kwargs,expected", PSK_313)
def test_psk_callbacks_like_stdlib_313(side, protocol, args, kwargs, expected):
    mine, theirs = pair(protocol)
    name = "set_psk_%s_callback" % side
    result = outcome(getattr(mine, name), *args, **kwargs)
    assert result == (expected, [])
    if PY313:
        assert outcome(getattr(theirs, name), *args, **kwargs) == result


# ---- collection of callbacks that reference their context ----------------------------

@pytest.mark.parametrize("how", ["sni", "servername", "psk-client", "psk-server"])
def test_context_and_callback_cycle_is_collected(how):
    protocol = "PROTOCOL_TLS_CLIENT" if how == "psk-client" else "PROTOCOL_TLS_SERVER"
    ctx, _ = pair(protocol)

    def callback(*args):
        return ctx  # the cycle: ctx -> callback -> closure -> ctx

    if how == "sni":
        ctx.sni_callback = callback
    elif how == "servername":
        ctx.set_servername_callback(callback)
    elif how == "psk-client":
        ctx.set_psk_client_callback(callback)
    else:
        ctx.set_psk_server_callback(callback, "hint")
    ref = weakref.ref(ctx)
    del ctx, callback
    gc.collect()
    assert ref() is None


def test_keylog_context_is_collected(tmp_path):
    ctx, _ = pair("PROTOCOL_TLS_CLIENT")
    ctx.keylog_filename = str(tmp_path / "keys.log")
    ref = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert ref() is None


# ---- the other attributes issue 5 lists ------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_other_attributes_like_stdlib(protocol):
    mine, theirs = pair(protocol)
    for name in ("post_handshake_auth", "hostname_checks_common_name", "security_level"):
        assert getattr(mine, name) == getattr(theirs, name)
    for name, value in (("post_handshake_auth", True), ("hostname_checks_common_name", False)):
        assert (outcome(setattr, mine, name, value) == outcome(setattr, theirs, name, value))
        assert getattr(mine, name) == getattr(theirs, name)
    # read-only on both; the messages name each module's own type
    for ctx in (mine, theirs):
        with pytest.raises(AttributeError, match="security_level.* is not writable"):
            ctx.security_level = 1
