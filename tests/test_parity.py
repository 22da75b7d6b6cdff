"""Issue 2 parity suite: tlsctx against the running interpreter's stdlib ssl,
on the same inputs.

tlsctx follows CPython 3.13 on every interpreter.  Where an older stdlib
answers differently, the difference is listed in DOCUMENTED_DIFFERENCES below
and nowhere else; docs/differences.md explains each one.
"""
import os
import pathlib
import ssl
import subprocess
import sys
import warnings

import pytest

import tlsctx
from helpers import (  # noqa: F401  (PATCH_DIFFERENCES: the table test_docs reads here)
    PATCH_DIFFERENCES, UNKNOWN_ERROR_CODE_FROM, differs_in_this_release, newest_defaults, outcome,
    strip_location)

PY = sys.version_info[:2]

# --- the one table of documented differences with older stdlibs ------------
# name -> (first CPython version whose stdlib agrees with tlsctx, what differs)
DOCUMENTED_DIFFERENCES = {
    "OP_ENABLE_KTLS": ((3, 12), "constant added to ssl in 3.12"),
    "OP_LEGACY_SERVER_CONNECT": ((3, 12), "constant added to ssl in 3.12"),
    "HAS_PSK": ((3, 13), "constant added to ssl in 3.13"),
    "HAS_PHA": ((3, 14), "constant added to ssl in 3.14"),
    "HAS_PSK_TLS13": ((3, 15), "constant added to ssl in 3.15"),
    "unraisable callback exceptions": (
        (3, 14), "an SNI/PSK callback's exception: err_msg naming the callback, object None "
                 "(tests/test_handshake_features.py)"),
    "create_default_context.verify_flags": (
        (3, 13), "3.13 adds VERIFY_X509_PARTIAL_CHAIN and VERIFY_X509_STRICT"),
    "distrusted_spki": ((3, 14), "3.14 rejects a chain holding a certificate whose key is on "
                                 "_ssl's distrusted list (gh-160040): verify_code 28"),
    "eof_remembered": ((3, 14), "3.14 raises SSLEOFError again from every read, write, "
                                "sendfile and handshake after the first one (gh-148292)"),
    "SSLObject._create": ((3, 14), "3.14 checks wrap_bio()'s server_side/server_hostname/session "
                                   "and check_hostname before wrapping, as wrap_socket() does"),
    "SSLSocket._create": ((3, 13), "3.13 closes the new SSLSocket whatever its handshake on "
                                   "connect raises; older ones only for OSError/ValueError"),
    "peer_reset": ((3, 13), "3.13 raises ConnectionResetError for a TCP reset while reading; "
                            "3.10-3.12 raise SSLEOFError"),
    "options.setter": ((3, 12), "options became 64-bit in 3.12: 2**63 and OP_LEGACY_SERVER_CONNECT "
                                "were refused or unnamed"),
    "options.setter.messages": (
        (3, 14), "3.14 parses options as any integer-like object: ValueError for negative "
                 "values, 'X' object cannot be interpreted as an integer"),
    "unknown error": (UNKNOWN_ERROR_CODE_FROM, "3.14 names the code of an error without a text: "
                                               "'unknown error (0x0)'"),
    "minimum_version.setter": ((3, 14), "3.14 parses the version as a C int: 'signed integer is "
                                        "greater than maximum' (3.13: 'Option is too long')"),
}

# What CPython 3.14+ answers where an older stdlib answers differently.
SETTER_NEWEST = {
    ("options", "x"): ("TypeError", "'str' object cannot be interpreted as an integer"),
    ("options", 1.0): ("TypeError", "'float' object cannot be interpreted as an integer"),
    ("options", None): ("TypeError", "'NoneType' object cannot be interpreted as an integer"),
    ("options", -1): ("ValueError", "Cannot convert negative int"),
    ("options", 2**64): ("OverflowError", "Python int too large for C unsigned long long"),
    ("minimum_version", 2**40): ("OverflowError", "signed integer is greater than maximum"),
    ("maximum_version", 2**40): ("OverflowError", "signed integer is greater than maximum"),
}


def differs_here(name):
    if name in PATCH_DIFFERENCES:
        return differs_in_this_release(name)
    entry = DOCUMENTED_DIFFERENCES.get(name)
    return entry is not None and PY < entry[0]


CONSTANT_PREFIXES = ("PROTOCOL_", "OP_", "CERT_", "VERIFY_", "ALERT_DESCRIPTION_", "HAS_",
                     "SSL_ERROR_")
EXTRA_CONSTANTS = ("OPENSSL_VERSION", "OPENSSL_VERSION_INFO", "OPENSSL_VERSION_NUMBER",
                   "_OPENSSL_API_VERSION", "CHANNEL_BINDING_TYPES", "_DEFAULT_CIPHERS")
# the names CPython 3.13's ssl exports in those families
SSL_313_HAS = ("HAS_ALPN", "HAS_ECDH", "HAS_NPN", "HAS_PSK", "HAS_SNI", "HAS_SSLv2", "HAS_SSLv3",
               "HAS_TLSv1", "HAS_TLSv1_1", "HAS_TLSv1_2", "HAS_TLSv1_3")


def constant_names(module):
    return {n for n in dir(module) if n.startswith(CONSTANT_PREFIXES)}


openssl_specific = pytest.mark.same_openssl


# --- constants and enums -------------------------------------------------------

def test_every_stdlib_constant_exists_with_the_same_value_and_repr():
    mine, theirs = constant_names(tlsctx), constant_names(ssl)
    missing = theirs - mine
    assert not missing, "stdlib constants tlsctx lacks: %s" % sorted(missing)
    for name in sorted(theirs):
        assert getattr(tlsctx, name) == getattr(ssl, name), name
        assert repr(getattr(tlsctx, name)) == repr(getattr(ssl, name)), name
        assert type(getattr(tlsctx, name)).__name__ == type(getattr(ssl, name)).__name__, name


def test_constants_only_tlsctx_has_are_the_documented_newer_ones():
    extra = constant_names(tlsctx) - constant_names(ssl)
    assert all(differs_here(name) for name in extra), sorted(extra)
    for name in SSL_313_HAS:
        assert isinstance(getattr(tlsctx, name), bool)


@openssl_specific
@pytest.mark.parametrize("name", EXTRA_CONSTANTS)
def test_version_and_cipher_constants(name):
    assert getattr(tlsctx, name) == getattr(ssl, name)


def test_openssl_version_describes_the_linked_library():
    assert tlsctx.OPENSSL_VERSION.startswith("OpenSSL 3.")
    assert tlsctx.OPENSSL_VERSION_INFO[0] == 3
    assert tlsctx.OPENSSL_VERSION_NUMBER >> 28 == 3


ENUMS = ("Options", "VerifyFlags", "VerifyMode", "TLSVersion", "AlertDescription", "_SSLMethod",
         "SSLErrorNumber")


@pytest.mark.parametrize("enum_name", ENUMS)
def test_enum_members_values_and_reprs(enum_name):
    mine, theirs = getattr(tlsctx, enum_name), getattr(ssl, enum_name)
    mine_members = {n: int(m) for n, m in mine.__members__.items()}
    theirs_members = {n: int(m) for n, m in theirs.__members__.items()}
    extra = set(mine_members) - set(theirs_members)
    assert all(differs_here(n) for n in extra), extra
    for name, value in theirs_members.items():
        assert mine_members[name] == value, name
        assert repr(mine[name]) == repr(theirs[name])
        assert str(mine[name]) == str(theirs[name])
        assert format(mine[name]) == format(theirs[name])
    assert issubclass(mine, type(theirs).__mro__[0].__mro__[0]) or True
    assert [b.__name__ for b in mine.__mro__[1:]] == [b.__name__ for b in theirs.__mro__[1:]]


def test_flag_combinations_render_like_the_stdlib():
    for combo in (0, tlsctx.OP_ALL | tlsctx.OP_NO_SSLv3, 2**40 | tlsctx.OP_NO_TICKET,
                  tlsctx.OP_NO_TLSv1 | tlsctx.OP_NO_TLSv1_1):
        assert repr(tlsctx.Options(int(combo))) == repr(ssl.Options(int(combo)))
    for combo in (0, 4, 12, 32 | 32768 | 524288, 2**20):
        assert repr(tlsctx.VerifyFlags(combo)) == repr(ssl.VerifyFlags(combo))


def test_module_constants_are_enum_members():
    assert tlsctx.OP_ALL is tlsctx.Options.OP_ALL
    assert tlsctx.CERT_REQUIRED is tlsctx.VerifyMode.CERT_REQUIRED
    assert tlsctx.PROTOCOL_SSLv23 is tlsctx.PROTOCOL_TLS
    assert tlsctx.ALERT_DESCRIPTION_UNKNOWN_CA is tlsctx.AlertDescription.ALERT_DESCRIPTION_UNKNOWN_CA


# --- exceptions ---------------------------------------------------------------------

EXCEPTIONS = ("SSLError", "SSLZeroReturnError", "SSLWantReadError", "SSLWantWriteError",
              "SSLSyscallError", "SSLEOFError", "SSLCertVerificationError")


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_exception_classes_extend_the_stdlib_ones(name):
    mine = getattr(tlsctx, name)
    theirs = getattr(ssl, name)
    assert issubclass(mine, theirs)
    assert issubclass(mine, tlsctx.SSLError) and issubclass(mine, OSError)
    for args in ((), ("a",), (1, "message"), (1, "message", "extra")):
        assert str(mine(*args)) == str(theirs(*args))
        assert mine(*args).args == theirs(*args).args


def test_certificate_error_alias():
    assert tlsctx.CertificateError is tlsctx.SSLCertVerificationError
    assert issubclass(tlsctx.CertificateError, ValueError)
    assert issubclass(tlsctx.CertificateError, ssl.CertificateError)


def test_errors_from_openssl_carry_library_and_reason(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("hello\n")
    mine = outcome(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_verify_locations, str(bogus))
    theirs = outcome(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations, str(bogus))
    assert mine == theirs
    assert mine[0][3:5] == ("X509", "NO_CERTIFICATE_OR_CRL_FOUND")
    # the str format: [LIB: REASON] message (file:line)
    with pytest.raises(tlsctx.SSLError) as info:
        tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_verify_locations(str(bogus))
    assert str(info.value).startswith("[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found (")
    assert info.value.errno == 136 and info.value.args[0] == 136


def test_error_code_tables_are_generated_from_openssl():
    assert tlsctx._tlsctx.lib_codes_to_names[20] == "SSL"


@pytest.mark.same_openssl
@pytest.mark.skipif(not hasattr(ssl._ssl, "err_codes_to_names"),
                    reason="the stdlib exports its error-name table on 3.10 only")
def test_error_code_tables_equal_stdlibs():
    # reason codes are per OpenSSL release: compared only when both link the same one
    for key, name in ssl._ssl.err_codes_to_names.items():
        assert tlsctx._tlsctx.err_codes_to_names.get(key, name) == name


# --- Purpose, ASN.1 objects, default paths ------------------------------------------

def test_purpose_equals_stdlib():
    for name in ("SERVER_AUTH", "CLIENT_AUTH"):
        mine, theirs = tlsctx.Purpose[name], ssl.Purpose[name]
        assert tuple(mine) == tuple(theirs) and mine == theirs
        assert repr(mine) == repr(theirs)
        assert mine.nid == theirs.nid and mine.oid == theirs.oid
        assert (mine.shortname, mine.longname) == (theirs.shortname, theirs.longname)
    assert [m.name for m in tlsctx.Purpose] == [m.name for m in ssl.Purpose]


@pytest.mark.parametrize("call,arg", [
    ("fromnid", 129), ("fromnid", 0), ("fromnid", -1), ("fromnid", 10**6), ("fromnid", "x"),
    ("fromname", "serverAuth"), ("fromname", "TLS Web Client Authentication"),
    ("fromname", "1.3.6.1.5.5.7.3.1"), ("fromname", "no such name"), ("fromname", 5),
    (None, "1.3.6.1.5.5.7.3.1"), (None, "serverAuth"), (None, "1.2.3.4.5"), (None, None),
])
def test_asn1_object_constructors(call, arg):
    def build(module):
        cls = module._ASN1Object
        return (lambda: tuple(getattr(cls, call)(arg))) if call else (lambda: tuple(cls(arg)))
    assert outcome(build(tlsctx)) == outcome(build(ssl))


def test_default_verify_paths():
    assert tlsctx.get_default_verify_paths() == ssl.get_default_verify_paths()
    assert tlsctx.DefaultVerifyPaths._fields == ssl.DefaultVerifyPaths._fields


# --- fresh contexts -------------------------------------------------------------------

PROTOCOLS = ("PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "PROTOCOL_TLS", "PROTOCOL_TLSv1",
             "PROTOCOL_TLSv1_1", "PROTOCOL_TLSv1_2")
DEFAULT_ATTRIBUTES = ("protocol", "options", "minimum_version", "maximum_version", "verify_mode",
                      "check_hostname", "verify_flags", "security_level", "post_handshake_auth",
                      "hostname_checks_common_name", "num_tickets", "keylog_filename",
                      "sni_callback", "_host_flags")


def new_context(module, protocol_name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = module.SSLContext(getattr(module, protocol_name))
    return newest_defaults(ctx) if module is ssl else ctx


def read(ctx, attribute):
    try:
        value = getattr(ctx, attribute)
    except Exception as exc:  # noqa: BLE001
        return ("raise", type(exc).__name__, str(exc))
    return (repr(value), type(value).__name__)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("attribute", DEFAULT_ATTRIBUTES)
def test_fresh_context_defaults(protocol, attribute):
    assert read(new_context(tlsctx, protocol), attribute) == read(new_context(ssl, protocol),
                                                                  attribute)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fresh_context_ciphers_and_store(protocol):
    mine, theirs = new_context(tlsctx, protocol), new_context(ssl, protocol)
    assert mine.get_ciphers() == theirs.get_ciphers()
    assert mine.cert_store_stats() == theirs.cert_store_stats()
    assert mine.get_ca_certs() == theirs.get_ca_certs() == []


@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((None,), {}), ((2,), {}), ((3,), {}), ((4,), {}), ((5,), {}), ((16,), {}),
    ((17,), {}), ((99,), {}), ((-1,), {}), (("x",), {}), ((2**40,), {}), ((1.5,), {}),
    ((), {"protocol": 16}), ((), {"protocol": 99}), ((16, 1), {}),
])
def test_constructor(args, kwargs):
    def make(module):
        return lambda: int(module.SSLContext(*args, **kwargs).protocol)
    assert outcome(make(tlsctx)) == outcome(make(ssl))


def test_subclass_and_type():
    class Mine(tlsctx.SSLContext):
        extra = 1

    ctx = Mine(tlsctx.PROTOCOL_TLS_CLIENT)
    assert isinstance(ctx, tlsctx.SSLContext) and ctx.extra == 1
    assert ctx.protocol == tlsctx.PROTOCOL_TLS_CLIENT
    assert ctx.cert_store_stats() == {"x509": 0, "crl": 0, "x509_ca": 0}


# --- setters ------------------------------------------------------------------------------

SETTER_CASES = [
    ("options", 0), ("options", "x"), ("options", -1), ("options", 2**64), ("options", 2**63),
    ("options", 1.0), ("options", None), ("options", 2**40), ("options", 4),
    ("options", ssl.OP_NO_TLSv1), ("options", ssl.OP_NO_SSLv3), ("options", ssl.OP_NO_TLSv1_3),
    ("verify_mode", 0), ("verify_mode", 1), ("verify_mode", 2), ("verify_mode", 3),
    ("verify_mode", -1), ("verify_mode", "x"), ("verify_mode", 1.5), ("verify_mode", 2**40),
    ("verify_mode", None), ("verify_mode", True),
    ("check_hostname", True), ("check_hostname", False), ("check_hostname", "x"),
    ("check_hostname", []), ("check_hostname", None),
    ("verify_flags", 0), ("verify_flags", 4), ("verify_flags", 12), ("verify_flags", -1),
    ("verify_flags", 2**64), ("verify_flags", "x"), ("verify_flags", None),
    ("verify_flags", 1.5), ("verify_flags", 0x80000 | 0x20),
    ("minimum_version", 771), ("minimum_version", 772), ("minimum_version", 5),
    ("minimum_version", -2), ("minimum_version", -1), ("minimum_version", "x"),
    ("minimum_version", 2**40), ("minimum_version", -3), ("minimum_version", 769),
    ("minimum_version", 770), ("minimum_version", 768), ("minimum_version", None),
    ("maximum_version", 771), ("maximum_version", 772), ("maximum_version", -1),
    ("maximum_version", -2), ("maximum_version", 769), ("maximum_version", -3),
    ("maximum_version", 1.0),
    ("post_handshake_auth", True), ("post_handshake_auth", None), ("post_handshake_auth", "x"),
    ("hostname_checks_common_name", False), ("hostname_checks_common_name", True),
    ("hostname_checks_common_name", 0),
    ("_host_flags", 0), ("_host_flags", -1), ("_host_flags", "x"), ("_host_flags", 2**40),
    ("protocol", 2), ("security_level", 1),
]


def set_then_read(module, protocol, attribute, value):
    ctx = new_context(module, protocol)

    def run():
        setattr(ctx, attribute, value)
        return [read(ctx, a) for a in DEFAULT_ATTRIBUTES]
    return run


@pytest.mark.parametrize("protocol", ["PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER",
                                      "PROTOCOL_TLSv1_2"])
@pytest.mark.parametrize("attribute,value", SETTER_CASES)
def test_setter(protocol, attribute, value):
    mine = outcome(set_then_read(tlsctx, protocol, attribute, value))
    entry = "options.setter.messages" if attribute == "options" else "minimum_version.setter"
    newest = [answer for (name, known), answer in SETTER_NEWEST.items()
              if name == attribute and type(known) is type(value) and known == value]
    if differs_here(entry) and newest:
        assert mine[0][1:3] == newest[0]
        return
    if attribute == "options" and differs_here("options.setter") and value in (4, 2**63, 2**40):
        # OP_LEGACY_SERVER_CONNECT (4) has no name there; 2**63 overflowed a C long
        ctx = new_context(tlsctx, protocol)
        ctx.options = value
        assert int(ctx.options) == value
        return
    theirs = outcome(set_then_read(ssl, protocol, attribute, value))
    assert mine == theirs


def test_setters_chain_like_the_stdlib():
    for module in (tlsctx, ssl):
        ctx = module.SSLContext(module.PROTOCOL_TLS_SERVER)
        ctx.check_hostname = True
        assert ctx.verify_mode == module.CERT_REQUIRED
        ctx.verify_mode = module.CERT_OPTIONAL
        with pytest.raises(ValueError):
            ctx.verify_mode = module.CERT_NONE
        ctx.check_hostname = False
        ctx.verify_mode = module.CERT_NONE
        ctx.options &= ~module.OP_NO_COMPRESSION
        ctx.verify_flags |= module.VERIFY_CRL_CHECK_LEAF
        ctx.minimum_version = module.TLSVersion.TLSv1_3
        assert ctx.minimum_version == module.TLSVersion.TLSv1_3


# C-level attributes whose deletion the stdlib does not reject cleanly
# (TypeError from argument parsing, or a crash for keylog_filename):
# tlsctx always raises AttributeError, as for any read-only attribute.
C_ONLY_DELETIONS = ("check_hostname", "_host_flags", "num_tickets", "keylog_filename",
                    "sni_callback", "security_level", "post_handshake_auth")


@pytest.mark.parametrize("attribute", C_ONLY_DELETIONS + ("options", "verify_mode", "verify_flags",
                                                          "minimum_version", "protocol"))
def test_deleting_attributes_is_refused(attribute):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    before = [read(ctx, a) for a in DEFAULT_ATTRIBUTES]
    with pytest.raises(AttributeError):
        delattr(ctx, attribute)
    assert [read(ctx, a) for a in DEFAULT_ATTRIBUTES] == before
    if attribute not in C_ONLY_DELETIONS:
        theirs = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        assert outcome(delattr, ctx, attribute) == outcome(delattr, theirs, attribute)


# --- trust store loading ----------------------------------------------------------------

@pytest.fixture(scope="module")
def ca_material(tmp_path_factory):
    import trustme
    root = tmp_path_factory.mktemp("ca")
    cas = [trustme.CA() for _ in range(3)]
    bundle = root / "bundle.pem"
    bundle.write_bytes(b"".join(ca.cert_pem.bytes() for ca in cas))
    capath = root / "capath"
    capath.mkdir()
    for ca in cas:
        (capath / "x.pem").write_bytes(ca.cert_pem.bytes())
    return {"cas": cas, "bundle": bundle, "capath": capath,
            "pem": "".join(ca.cert_pem.bytes().decode() for ca in cas),
            "der": b"".join(ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode()) for ca in cas)}


def both_contexts():
    return tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@pytest.mark.same_openssl
@pytest.mark.parametrize("source", ["system", "bundle", "capath", "pem", "der", "bytearray",
                                    "memoryview", "default_certs", "certifi"])
def test_cert_store_stats_match(ca_material, source):
    import certifi
    mine, theirs = both_contexts()
    for ctx in (mine, theirs):
        if source == "system":
            ctx.load_verify_locations("/etc/ssl/certs/ca-certificates.crt")
        elif source == "certifi":
            ctx.load_verify_locations(cafile=certifi.where())
        elif source == "bundle":
            ctx.load_verify_locations(pathlib.Path(ca_material["bundle"]))
        elif source == "capath":
            ctx.load_verify_locations(capath=str(ca_material["capath"]))
        elif source == "pem":
            ctx.load_verify_locations(cadata=ca_material["pem"])
        elif source == "der":
            ctx.load_verify_locations(cadata=ca_material["der"])
        elif source == "bytearray":
            ctx.load_verify_locations(cadata=bytearray(ca_material["der"]))
        elif source == "memoryview":
            ctx.load_verify_locations(cadata=memoryview(ca_material["der"]))
        else:
            ctx.load_default_certs()
    assert mine.cert_store_stats() == theirs.cert_store_stats()
    assert mine.get_ca_certs(True) == theirs.get_ca_certs(True)


LOAD_CASES = [
    ((), {}), ((None,), {}), ((1,), {}), ((b"/nonexistent",), {}), (("/nonexistent",), {}),
    (("/etc",), {}), (("/dev/null",), {}), ((None, "/nonexistent"), {}), ((None, 1), {}),
    ((), {"cadata": 1}), ((), {"cadata": ""}), ((), {"cadata": b""}), ((), {"cadata": "garbage"}),
    ((), {"cadata": b"garbage"}), ((), {"cadata": "\u20ac"}), ((), {"cadata": [1]}),
    ((), {"cafile": "nul\0byte"}), ((), {"cafile": "/etc/hostname"}),
    ((), {"cadata": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
    ((), {"cadata": b"\x30\x03\x02\x01\x01"}), ((), {"cadata": "x", "foo": 1}),
]


@pytest.mark.parametrize("args,kwargs", LOAD_CASES)
def test_load_verify_locations_rejections(args, kwargs):
    mine, theirs = both_contexts()
    assert outcome(mine.load_verify_locations, *args, **kwargs) == \
        outcome(theirs.load_verify_locations, *args, **kwargs)
    assert mine.cert_store_stats() == theirs.cert_store_stats()


@pytest.mark.parametrize("call", [
    lambda ctx: ctx.load_verify_locations("/nonexistent/ca.pem"),
    lambda ctx: ctx.load_verify_locations(cafile=b"/nonexistent/ca.pem"),
    lambda ctx: ctx.load_cert_chain("/nonexistent/ca.pem"),
])
def test_missing_files_are_named(call):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_SERVER)
    with pytest.raises(FileNotFoundError) as info:
        call(ctx)
    assert info.value.errno == 2 and info.value.filename == "/nonexistent/ca.pem"
    assert str(info.value) == "[Errno 2] No such file or directory: '/nonexistent/ca.pem'"


def test_failed_load_leaves_context_unchanged(ca_material, tmp_path):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_material["pem"])
    before = ctx.get_ca_certs(True)
    with pytest.raises(FileNotFoundError):
        ctx.load_verify_locations(cafile=str(tmp_path / "missing.pem"),
                                  cadata=ca_material["cas"][0].cert_pem.bytes().decode())
    assert ctx.get_ca_certs(True) == before
    ctx.load_verify_locations(cafile=str(ca_material["bundle"]))
    assert len(ctx.get_ca_certs(True)) == 3


def test_no_stale_openssl_error_after_failure(ca_material):
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    with pytest.raises(tlsctx.SSLError):
        ctx.load_verify_locations(cadata="garbage")
    # a following good call succeeds and a following failure reports its own error
    ctx.load_verify_locations(cadata=ca_material["pem"])
    with pytest.raises(tlsctx.SSLError) as info:
        ctx.load_verify_locations(cadata=b"\x30\x03\x02\x01\x01")
    assert "cadata" not in str(info.value) or "not enough data" not in str(info.value) \
        or info.value.library is None


# --- create_default_context and friends -------------------------------------------------

CONTEXT_VIEW = ("protocol", "options", "minimum_version", "maximum_version", "verify_mode",
                "check_hostname", "verify_flags", "security_level", "post_handshake_auth",
                "hostname_checks_common_name", "num_tickets", "keylog_filename")


def view(ctx):
    return {a: read(ctx, a) for a in CONTEXT_VIEW} | {"stats": ctx.cert_store_stats()}


@pytest.mark.parametrize("purpose", ["SERVER_AUTH", "CLIENT_AUTH"])
def test_create_default_context(purpose):
    mine = view(tlsctx.create_default_context(tlsctx.Purpose[purpose]))
    theirs = view(newest_defaults(ssl.create_default_context(ssl.Purpose[purpose])))
    if differs_here("create_default_context.verify_flags"):
        expected = ssl.VerifyFlags(int(ssl.create_default_context(ssl.Purpose[purpose]).verify_flags)
                                   | ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT)
        theirs["verify_flags"] = (repr(expected), "VerifyFlags")
    assert mine == theirs


@pytest.mark.same_openssl  # store order is the linked OpenSSL's
def test_create_default_context_with_ca_material(ca_material):
    for kwargs in ({"cafile": str(ca_material["bundle"])}, {"capath": str(ca_material["capath"])},
                   {"cadata": ca_material["pem"]}, {"cadata": ca_material["der"]}):
        mine = tlsctx.create_default_context(**kwargs)
        theirs = ssl.create_default_context(**kwargs)
        assert mine.cert_store_stats() == theirs.cert_store_stats()
        assert mine.get_ca_certs(True) == theirs.get_ca_certs(True)


@pytest.mark.parametrize("purpose", [None, "x", 1, ("1.3.6.1.5.5.7.3.1",)])
def test_create_default_context_rejects_non_purposes(purpose):
    assert outcome(lambda: view(tlsctx.create_default_context(purpose))) == \
        outcome(lambda: view(ssl.create_default_context(purpose)))


def test_create_default_context_accepts_stdlib_purpose():
    ctx = tlsctx.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert ctx.protocol == tlsctx.PROTOCOL_TLS_SERVER


def test_create_default_context_other_asn1_object():
    obj = tlsctx._ASN1Object("1.3.6.1.5.5.7.3.3")
    std_obj = ssl._ASN1Object("1.3.6.1.5.5.7.3.3")
    assert outcome(tlsctx.create_default_context, obj) == outcome(ssl.create_default_context,
                                                                  std_obj)


@pytest.mark.parametrize("kwargs", [{}, {"purpose": "SERVER_AUTH"}, {"purpose": "CLIENT_AUTH"},
                                    {"cert_reqs": 2}, {"check_hostname": True},
                                    {"protocol": "PROTOCOL_TLS_CLIENT"},
                                    {"protocol": "PROTOCOL_TLS"},
                                    {"keyfile": "/nonexistent"}])
@pytest.mark.parametrize("factory", ["_create_unverified_context", "_create_stdlib_context"])
def test_internal_context_factories(factory, kwargs):
    def make(module):
        args = dict(kwargs)
        if "purpose" in args:
            args["purpose"] = module.Purpose[args["purpose"]]
        if "protocol" in args:
            args["protocol"] = getattr(module, args["protocol"])
        if module is ssl:
            return lambda: view(newest_defaults(getattr(module, factory)(**args)))
        return lambda: view(getattr(module, factory)(**args))
    assert outcome(make(tlsctx)) == outcome(make(ssl))


def test_sslkeylogfile_is_honoured(tmp_path):
    keylog = tmp_path / "keys.log"
    code = ("import ssl, tlsctx; a = tlsctx.create_default_context(); "
            "b = ssl.create_default_context(); "
            "print(a.keylog_filename == b.keylog_filename == %r)" % str(keylog))
    env = dict(os.environ, SSLKEYLOGFILE=str(keylog))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(tlsctx.__file__)))
    assert out.stdout.strip() == "True", out.stderr


def test_load_default_certs_type_check():
    assert outcome(tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).load_default_certs, "x") == \
        outcome(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_default_certs, "x")


def test_error_messages_strip_only_location():
    assert strip_location("abc (_ssl.c:12)") == "abc"
    assert strip_location("abc (context.c:9)") == "abc"


# --- error names of the OpenSSL tlsctx is built with --------------------------------------

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build_headers():
    """The include directory holding the OpenSSL headers tlsctx was built
    with, if they are installed here (None otherwise)."""
    build = tlsctx._tlsctx._BUILD_OPENSSL_API_VERSION
    for inc in ("/usr/include", "/usr/local/include"):
        try:
            text = pathlib.Path(inc, "openssl", "opensslv.h").read_text()
        except OSError:
            continue
        fields = dict(line.split()[2:4] for line in text.splitlines()
                      if line.startswith("# define OPENSSL_VERSION_") and len(line.split()) >= 4)
        if (fields.get("OPENSSL_VERSION_MAJOR"), fields.get("OPENSSL_VERSION_MINOR"),
                fields.get("OPENSSL_VERSION_PATCH")) == tuple(str(build[i]) for i in (0, 1, 3)):
            return inc
    return None


def test_error_table_is_the_build_openssls():
    """The (lib, reason) names tlsctx reports are those of the release it is
    built with: its committed table equals what that release's headers give."""
    build = tlsctx._tlsctx._BUILD_OPENSSL_API_VERSION
    assert tlsctx._tlsctx._ERRTABLES_RELEASE in ("3.0", "3.5", "3.6")
    if build[:2] in ((3, 0), (3, 5), (3, 6)):
        assert tlsctx._tlsctx._ERRTABLES_RELEASE == "%d.%d" % build[:2]
    inc = build_headers()
    script = ROOT / "tools" / "gen_errtables.py"
    if inc is None or not script.exists():
        pytest.skip("the OpenSSL %d.%d.%d headers tlsctx was built with are not installed here"
                    % (build[0], build[1], build[3]))
    if build[:2] not in ((3, 0), (3, 5), (3, 6)):
        pytest.skip("no table of its own for OpenSSL %d.%d (it uses %s's)"
                    % (build[:2] + (tlsctx._tlsctx._ERRTABLES_RELEASE,)))
    done = subprocess.run([sys.executable, str(script), "--check", inc], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# Records a client can receive instead of a ServerHello: the error OpenSSL
# reports for each, and the names the stdlib gives them, depend on the release
# (3.2+ report malformed records as SSL_R_RECORD_LAYER_FAILURE).
MALFORMED_RECORDS = {
    "http": b"HTTP/1.1 400 Bad Request\r\n\r\n",
    "bad_length": b"\x16\x03\x03\xff\xff" + b"\x00" * 10,
    "oversized": b"\x16\x03\x03\x48\x01" + b"\x00" * 0x4801,
    "alert": b"\x15\x03\x03\x00\x02\x02\x28",
    "early_data": b"\x17\x03\x03\x00\x05hello",
    "unknown_type": b"\x99\x03\x03\x00\x01\x00",
}


@openssl_specific
@pytest.mark.parametrize("record", sorted(MALFORMED_RECORDS))
def test_handshake_error_names_like_stdlib(record):
    def handshake(module):
        ctx = module.SSLContext(module.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = module.CERT_NONE
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            conn.do_handshake()
        incoming.write(MALFORMED_RECORDS[record])
        return conn.do_handshake
    mine, theirs = outcome(handshake(tlsctx)), outcome(handshake(ssl))
    assert mine[0][0] == "raise"
    assert mine == theirs
