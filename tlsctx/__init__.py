"""tlsctx: TLS contexts over OpenSSL 3 that behave like the stdlib ``ssl``'s.

``import tlsctx as ssl`` gives the context half of the ``ssl`` module:
SSLContext and everything it configures, the constants and enums, the
SSLError family, Purpose and create_default_context.  Trust sources are
parsed once per process and shared between contexts.
"""
import builtins as _builtins
# errno, os and sys are module names the stdlib's ssl has too (base64 and
# warnings as well: those are loaded on first use, see __getattr__ below)
import errno  # noqa: F401
import os
import sys
from collections import namedtuple
from enum import Enum as _Enum, IntEnum as _IntEnum, IntFlag as _IntFlag
try:
    from enum import _simple_enum  # noqa: F401  (3.11+)
except ImportError:
    pass
import _thread
import _socket   # the C module (the stdlib's _ssl imports it too); socket.py is lazy

# An older OpenSSL than the build's: ImportError naming both (tlsctx/_opensslcheck.py,
# loaded only when the versions differ in major or the running minor is lower).
try:
    from . import _opensslprobe
except ImportError:   # a build without the probe: the extension's own import decides
    pass
else:
    if (_opensslprobe.RUNTIME_NUMBER >> 28 != _opensslprobe.BUILT_NUMBER >> 28
            or _opensslprobe.RUNTIME_NUMBER >> 20 < _opensslprobe.BUILT_NUMBER >> 20):
        from ._opensslcheck import check as _check_openssl
        _check_openssl()
from . import _tlsctx  # noqa: E402
from ._tlsctx import (  # noqa: F401  (re-exported)
    OPENSSL_VERSION, OPENSSL_VERSION_INFO, OPENSSL_VERSION_NUMBER, _OPENSSL_API_VERSION,
    _DEFAULT_CIPHERS,
    SSLError, SSLZeroReturnError, SSLWantReadError, SSLWantWriteError, SSLSyscallError,
    SSLEOFError, SSLCertVerificationError, CertificateError,
    txt2obj as _txt2obj, nid2obj as _nid2obj,
    get_sigalgs,
    _SSLContext,
    RAND_status, RAND_add, RAND_bytes,
)
from . import _tlsctx as _ssl  # the stdlib's ssl calls its C module _ssl

socket_error = OSError

for _name in dir(_tlsctx):
    # HAS_TLS_UNIQUE stays in _tlsctx, as in the stdlib's _ssl
    if _name.startswith(("HAS_", "HOSTFLAG_", "ENCODING_", "PROTO_")) and _name != "HAS_TLS_UNIQUE":
        globals()[_name] = getattr(_tlsctx, _name)
del _name

CHANNEL_BINDING_TYPES = ['tls-unique']
HAS_NEVER_CHECK_COMMON_NAME = hasattr(_tlsctx, 'HOSTFLAG_NEVER_CHECK_SUBJECT')


def _enum_from_constants(kind, name, predicate):
    """An enum of the C module's constants whose names pass `predicate`,
    also published as module globals.

    Built with Enum._convert_, the constructor the stdlib's ssl uses: the
    functional API treats multi-bit flags such as OP_ALL differently, and
    reprs must be the stdlib's."""
    return kind._convert_(name, __name__, predicate, source=_tlsctx)


_SSLMethod = _enum_from_constants(
    _IntEnum, "_SSLMethod", lambda n: n.startswith("PROTOCOL_") and n != "PROTOCOL_SSLv23")
Options = _enum_from_constants(_IntFlag, "Options", lambda n: n.startswith("OP_"))
AlertDescription = _enum_from_constants(
    _IntEnum, "AlertDescription", lambda n: n.startswith("ALERT_DESCRIPTION_"))
SSLErrorNumber = _enum_from_constants(_IntEnum, "SSLErrorNumber", lambda n: n.startswith("SSL_ERROR_"))
VerifyFlags = _enum_from_constants(_IntFlag, "VerifyFlags", lambda n: n.startswith("VERIFY_"))
VerifyMode = _enum_from_constants(_IntEnum, "VerifyMode", lambda n: n.startswith("CERT_"))
PROTOCOL_SSLv23 = _SSLMethod.PROTOCOL_SSLv23 = _SSLMethod.PROTOCOL_TLS
# a frozendict where the interpreter has one (3.15), as the stdlib's
_PROTOCOL_NAMES = getattr(_builtins, "frozendict", dict)(
    {value: name for name, value in _SSLMethod.__members__.items()})
_SSLv2_IF_EXISTS = getattr(_SSLMethod, "PROTOCOL_SSLv2", None)
_RESTRICTED_SERVER_CIPHERS = _DEFAULT_CIPHERS


def get_protocol_name(protocol_code):
    """The name of a PROTOCOL_* value, or '<unknown>'."""
    return _PROTOCOL_NAMES.get(protocol_code, "<unknown>")


def _int_enum(name, members, doc=None):
    """An IntEnum of (name, value) pairs, made as the stdlib makes its own:
    with enum._simple_enum where it exists (3.11+; about half the cost of
    the functional API), else with the functional API."""
    if "_simple_enum" not in globals():
        enum = _IntEnum(name, members, module=__name__)
        if doc is not None:
            enum.__doc__ = doc
        return enum
    body = dict(members, __module__=__name__)
    if doc is not None:
        body["__doc__"] = doc
    return _simple_enum(_IntEnum)(type(name, (), body))


TLSVersion = _int_enum("TLSVersion", [
    ("MINIMUM_SUPPORTED", _tlsctx.PROTO_MINIMUM_SUPPORTED),
    ("SSLv3", _tlsctx.PROTO_SSLv3),
    ("TLSv1", _tlsctx.PROTO_TLSv1),
    ("TLSv1_1", _tlsctx.PROTO_TLSv1_1),
    ("TLSv1_2", _tlsctx.PROTO_TLSv1_2),
    ("TLSv1_3", _tlsctx.PROTO_TLSv1_3),
    ("MAXIMUM_SUPPORTED", _tlsctx.PROTO_MAXIMUM_SUPPORTED),
])


# TLS record, alert and handshake message numbers (RFC 8446, appendix B),
# which the message callback (SSLContext._msg_callback) reports
_TLSContentType = _int_enum("_TLSContentType", [
    ("CHANGE_CIPHER_SPEC", 20), ("ALERT", 21), ("HANDSHAKE", 22), ("APPLICATION_DATA", 23),
    # not record types: OpenSSL's pseudo types for a record header and the
    # inner content type of a TLS 1.3 record
    ("HEADER", 0x100), ("INNER_CONTENT_TYPE", 0x101),
], "Content types (record layer)\n\n    See RFC 8446, section B.1\n    ")

_TLSAlertType = _int_enum("_TLSAlertType", [
    ("CLOSE_NOTIFY", 0), ("UNEXPECTED_MESSAGE", 10), ("BAD_RECORD_MAC", 20),
    ("DECRYPTION_FAILED", 21), ("RECORD_OVERFLOW", 22), ("DECOMPRESSION_FAILURE", 30),
    ("HANDSHAKE_FAILURE", 40), ("NO_CERTIFICATE", 41), ("BAD_CERTIFICATE", 42),
    ("UNSUPPORTED_CERTIFICATE", 43), ("CERTIFICATE_REVOKED", 44), ("CERTIFICATE_EXPIRED", 45),
    ("CERTIFICATE_UNKNOWN", 46), ("ILLEGAL_PARAMETER", 47), ("UNKNOWN_CA", 48),
    ("ACCESS_DENIED", 49), ("DECODE_ERROR", 50), ("DECRYPT_ERROR", 51),
    ("EXPORT_RESTRICTION", 60), ("PROTOCOL_VERSION", 70), ("INSUFFICIENT_SECURITY", 71),
    ("INTERNAL_ERROR", 80), ("INAPPROPRIATE_FALLBACK", 86), ("USER_CANCELED", 90),
    ("NO_RENEGOTIATION", 100), ("MISSING_EXTENSION", 109), ("UNSUPPORTED_EXTENSION", 110),
    ("CERTIFICATE_UNOBTAINABLE", 111), ("UNRECOGNIZED_NAME", 112),
    ("BAD_CERTIFICATE_STATUS_RESPONSE", 113), ("BAD_CERTIFICATE_HASH_VALUE", 114),
    ("UNKNOWN_PSK_IDENTITY", 115), ("CERTIFICATE_REQUIRED", 116),
    ("NO_APPLICATION_PROTOCOL", 120),
], "Alert types for TLSContentType.ALERT messages\n\n    See RFC 8446, section B.2\n    ")

_TLSMessageType = _int_enum("_TLSMessageType", [
    ("HELLO_REQUEST", 0), ("CLIENT_HELLO", 1), ("SERVER_HELLO", 2),
    ("HELLO_VERIFY_REQUEST", 3), ("NEWSESSION_TICKET", 4), ("END_OF_EARLY_DATA", 5),
    ("HELLO_RETRY_REQUEST", 6), ("ENCRYPTED_EXTENSIONS", 8), ("CERTIFICATE", 11),
    ("SERVER_KEY_EXCHANGE", 12), ("CERTIFICATE_REQUEST", 13), ("SERVER_DONE", 14),
    ("CERTIFICATE_VERIFY", 15), ("CLIENT_KEY_EXCHANGE", 16), ("FINISHED", 20),
    ("CERTIFICATE_URL", 21), ("CERTIFICATE_STATUS", 22), ("SUPPLEMENTAL_DATA", 23),
    ("KEY_UPDATE", 24), ("NEXT_PROTO", 67), ("MESSAGE_HASH", 254),
    # OpenSSL reports ChangeCipherSpec through the handshake channel
    ("CHANGE_CIPHER_SPEC", 0x0101),
], "Message types (handshake protocol)\n\n    See RFC 8446, section B.3\n    ")


class _ASN1Object(namedtuple("_ASN1Object", "nid shortname longname oid")):
    """An ASN.1 object identifier: (nid, shortname, longname, oid)."""
    __slots__ = ()

    def __new__(cls, oid):
        return super().__new__(cls, *_txt2obj(oid, name=False))

    @classmethod
    def fromnid(cls, nid):
        """Create an _ASN1Object from an OpenSSL NID."""
        return super().__new__(cls, *_nid2obj(nid))

    @classmethod
    def fromname(cls, name):
        """Create an _ASN1Object from a short or long name, or an OID."""
        return super().__new__(cls, *_txt2obj(name, name=True))


class Purpose(_ASN1Object, _Enum):
    """SSLContext purpose flags with X509v3 Extended Key Usage objects"""
    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


def _is_asn1_object(value):
    if isinstance(value, _ASN1Object):
        return True
    std = sys.modules.get("ssl")
    return std is not None and isinstance(value, std._ASN1Object)


DefaultVerifyPaths = namedtuple(
    "DefaultVerifyPaths",
    "cafile capath openssl_cafile_env openssl_cafile openssl_capath_env openssl_capath")


# Places a distribution's OpenSSL keeps its cert.pem and certs/ in (its
# OPENSSLDIR): Debian/Ubuntu, Fedora/RHEL, then Alpine/Arch/SUSE/macOS.
_OPENSSLDIR_CANDIDATES = ("/usr/lib/ssl", "/etc/pki/tls", "/etc/ssl")


def _system_default_verify_paths():
    """The stdlib's (file env var, file, dir env var, dir) on this machine,
    and where they came from.

    A binary wheel's OpenSSL was configured on the build machine; the
    interpreter's own _ssl knows where this machine keeps its certificates.
    Without _ssl, the first OPENSSLDIR candidate that has a cert.pem or a
    certs/ directory."""
    try:
        import _ssl
    except ImportError:
        _ssl = None
    if _ssl is not None:
        return tuple(_ssl.get_default_verify_paths()), "taken from the stdlib's " + _ssl.OPENSSL_VERSION
    for directory in _OPENSSLDIR_CANDIDATES:
        cafile, capath = directory + "/cert.pem", directory + "/certs"
        if os.path.isfile(cafile) or os.path.isdir(capath):
            break
    return ("SSL_CERT_FILE", cafile, "SSL_CERT_DIR", capath), "found in %s (no _ssl module)" % directory


if _tlsctx._OPENSSL_BUNDLED:
    _DEFAULT_VERIFY_PATHS_SOURCE = _system_default_verify_paths()
    _tlsctx._set_default_verify_paths(*_DEFAULT_VERIFY_PATHS_SOURCE[0])
    _DEFAULT_VERIFY_PATHS_SOURCE = _DEFAULT_VERIFY_PATHS_SOURCE[1]
else:
    _DEFAULT_VERIFY_PATHS_SOURCE = "compiled into " + OPENSSL_VERSION


def get_default_verify_paths():
    """Return the default locations OpenSSL loads CA certificates from."""
    parts = _tlsctx.get_default_verify_paths()
    cafile = os.environ.get(parts[0], parts[1])
    capath = os.environ.get(parts[2], parts[3])
    return DefaultVerifyPaths(cafile if os.path.isfile(cafile) else None,
                              capath if os.path.isdir(capath) else None,
                              *parts)


def _protocol_list_wire(protocols, kind):
    """ALPN/NPN protocol names in wire format: each name ASCII, 1 to 255
    bytes, prefixed with its length."""
    wire = bytearray()
    for protocol in protocols:
        encoded = bytes(protocol, "ascii")
        if len(encoded) == 0 or len(encoded) > 255:
            raise SSLError("%s protocols must be 1 to 255 in length" % kind)
        wire.append(len(encoded))
        wire.extend(encoded)
    return wire


class _ContextType(type):
    """SSLContext's metaclass: while inject_into_ssl() is in effect,
    ``ssl.SSLContext`` is tlsctx's class, and stdlib contexts made before
    the injection must still pass ``isinstance(ctx, ssl.SSLContext)``."""

    def __instancecheck__(cls, obj):
        if type.__instancecheck__(cls, obj):
            return True
        # tlsctx._inject is loaded by the first inject_into_ssl()
        inject = sys.modules.get(__name__ + "._inject")
        return cls is SSLContext and inject is not None and inject.accepts_stdlib_context(obj)


class _ConnectionClass:
    """SSLContext.sslsocket_class and sslobject_class until the connection
    layer is loaded: the first read loads it, which puts the classes
    themselves in their place."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return getattr(_connection_layer(), self.name)


class SSLContext(_SSLContext, metaclass=_ContextType):
    """A collection of TLS settings and trust, compatible with ssl.SSLContext."""

    _windows_cert_stores = ("CA", "ROOT")
    sslsocket_class = _ConnectionClass("SSLSocket")
    sslobject_class = _ConnectionClass("SSLObject")

    def __new__(cls, protocol=None, *args, **kwargs):
        if protocol is None:
            import warnings
            warnings.warn("ssl.SSLContext() without protocol argument is deprecated.",
                          category=DeprecationWarning, stacklevel=2)
            protocol = PROTOCOL_TLS
        return _SSLContext.__new__(cls, protocol)

    def _encode_hostname(self, hostname):
        if hostname is None:
            return None
        if isinstance(hostname, str):
            return hostname.encode("idna").decode("ascii")
        return hostname.decode("ascii")

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        return self.sslsocket_class._create(
            sock=sock, server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname, context=self, session=session)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None,
                 session=None):
        return self.sslobject_class._create(
            incoming, outgoing, server_side=server_side,
            server_hostname=self._encode_hostname(server_hostname),
            session=session, context=self)

    def set_npn_protocols(self, npn_protocols):
        import warnings
        warnings.warn("ssl NPN is deprecated, use ALPN instead",
                      DeprecationWarning, stacklevel=2)
        # As the stdlib: validate, then fail on the C method that OpenSSL 3
        # builds no longer have (AttributeError, like ssl's).
        wire = _protocol_list_wire(npn_protocols, "NPN")  # validated before the lookup fails
        self._set_npn_protocols(wire)

    def set_servername_callback(self, server_name_callback):
        if server_name_callback is None:
            self.sni_callback = None
            return
        if not callable(server_name_callback):
            raise TypeError("not a callable object")

        def shim_cb(sslobj, servername, sslctx):
            servername = self._encode_hostname(servername)
            return server_name_callback(sslobj, servername, sslctx)

        self.sni_callback = shim_cb

    def set_alpn_protocols(self, alpn_protocols):
        self._set_alpn_protocols(_protocol_list_wire(alpn_protocols, "ALPN"))

    def _load_windows_store_certs(self, storename, purpose):
        raise NotImplementedError("the Windows certificate stores are not available here")

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        if not _is_asn1_object(purpose):
            raise TypeError(purpose)
        self.set_default_verify_paths()

    @property
    def minimum_version(self):
        return TLSVersion(super().minimum_version)

    @minimum_version.setter
    def minimum_version(self, value):
        if value == TLSVersion.SSLv3:
            self.options &= ~Options.OP_NO_SSLv3
        _SSLContext.minimum_version.__set__(self, value)

    @property
    def maximum_version(self):
        return TLSVersion(super().maximum_version)

    @maximum_version.setter
    def maximum_version(self, value):
        _SSLContext.maximum_version.__set__(self, value)

    @property
    def options(self):
        return Options(super().options)

    @options.setter
    def options(self, value):
        _SSLContext.options.__set__(self, value)

    @property
    def hostname_checks_common_name(self):
        never = _tlsctx.HOSTFLAG_NEVER_CHECK_SUBJECT
        return (self._host_flags & never) != never

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value):
        if value:
            self._host_flags &= ~_tlsctx.HOSTFLAG_NEVER_CHECK_SUBJECT
        else:
            self._host_flags |= _tlsctx.HOSTFLAG_NEVER_CHECK_SUBJECT

    @property
    def protocol(self):
        return _SSLMethod(super().protocol)

    @property
    def _msg_callback(self):
        """A debugging hook called for every TLS protocol message (not for
        application data) with (conn, direction, version, content_type,
        msg_type, data); version and types come as enum members where known.
        An exception it raises is re-raised when the TLS operation returns."""
        wrapper = super()._msg_callback
        return None if wrapper is None else wrapper.user_function

    @_msg_callback.setter
    def _msg_callback(self, callback):
        if callback is None:
            _SSLContext._msg_callback.__set__(self, None)
            return
        if not hasattr(callback, "__call__"):
            raise TypeError(f"{callback} is not callable.")
        _SSLContext._msg_callback.__set__(self, _MessageCallback(callback))

    @property
    def verify_flags(self):
        return VerifyFlags(super().verify_flags)

    @verify_flags.setter
    def verify_flags(self, value):
        _SSLContext.verify_flags.__set__(self, value)

    @property
    def verify_mode(self):
        value = super().verify_mode
        try:
            return VerifyMode(value)
        except ValueError:
            return value

    @verify_mode.setter
    def verify_mode(self, value):
        _SSLContext.verify_mode.__set__(self, value)


def _as_enum(enum, value):
    try:
        return enum(value)
    except ValueError:
        return value


class _MessageCallback:
    """Calls a user's message callback with enum members instead of numbers."""

    __slots__ = ("user_function",)

    def __init__(self, user_function):
        self.user_function = user_function

    def __call__(self, conn, direction, version, content_type, msg_type, data):
        version = _as_enum(TLSVersion, version)
        content_type = _as_enum(_TLSContentType, content_type)
        if content_type == _TLSContentType.HEADER:
            kinds = _TLSContentType
        elif content_type == _TLSContentType.ALERT:
            kinds = _TLSAlertType
        else:
            kinds = _TLSMessageType
        return self.user_function(conn, direction, version, content_type,
                                  _as_enum(kinds, msg_type), data)


def _check_purpose(purpose):
    if not _is_asn1_object(purpose):
        raise TypeError(purpose)
    if purpose == Purpose.SERVER_AUTH:
        return PROTOCOL_TLS_CLIENT
    if purpose == Purpose.CLIENT_AUTH:
        return PROTOCOL_TLS_SERVER
    raise ValueError(purpose)


def _log_keys_from_environment(context):
    keylogfile = os.environ.get("SSLKEYLOGFILE")
    if keylogfile and not sys.flags.ignore_environment:
        context.keylog_filename = keylogfile


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None,
                           capath=None, cadata=None):
    """A context with secure defaults (CPython 3.13's), for `purpose`.

    Client contexts verify the peer and its host name; both kinds add
    VERIFY_X509_PARTIAL_CHAIN and VERIFY_X509_STRICT, and trust the given CA
    material or else the system's default certificates.
    """
    context = SSLContext(_check_purpose(purpose))
    if context.protocol == PROTOCOL_TLS_CLIENT:
        context.verify_mode = CERT_REQUIRED
        context.check_hostname = True
    context.verify_flags |= VERIFY_X509_PARTIAL_CHAIN | VERIFY_X509_STRICT
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    _log_keys_from_environment(context)
    return context


def _create_unverified_context(protocol=None, *, cert_reqs=CERT_NONE,
                               check_hostname=False, purpose=Purpose.SERVER_AUTH,
                               certfile=None, keyfile=None,
                               cafile=None, capath=None, cadata=None):
    """A context for internal use that verifies nothing unless asked."""
    default_protocol = _check_purpose(purpose)
    context = SSLContext(default_protocol if protocol is None else protocol)
    context.check_hostname = check_hostname
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if check_hostname:
        context.check_hostname = True
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    _log_keys_from_environment(context)
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context



# ---- certificate text helpers (the stdlib's, same results and errors) ----

PEM_HEADER = "-----BEGIN CERTIFICATE-----"
PEM_FOOTER = "-----END CERTIFICATE-----"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cert_time_to_seconds(cert_time):
    """Seconds since the Epoch for a certificate's "notBefore"/"notAfter"
    text, as printed by OpenSSL: "%b %d %H:%M:%S %Y GMT" (C locale months,
    whatever the current locale)."""
    import calendar
    import time
    rest_format = " %d %H:%M:%S %Y GMT"
    # the month is matched by hand: %b would follow the current locale
    month = cert_time[:3].title()
    if month not in _MONTHS:
        raise ValueError('time data %r does not match format "%%b%s"'
                         % (cert_time, rest_format))
    parsed = time.strptime(cert_time[3:], rest_format)
    return calendar.timegm((parsed.tm_year, _MONTHS.index(month) + 1) + tuple(parsed)[2:6])


def DER_cert_to_PEM_cert(der_cert_bytes):
    """PEM text (str, lines of 64 characters) of a DER certificate."""
    import base64
    body = base64.standard_b64encode(der_cert_bytes).decode("ascii")
    # CPython 3.15's layout: the body's line (empty for empty input) always
    # sits between the markers
    wrapped = "\n".join(body[start:start + 64] for start in range(0, len(body), 64))
    return "%s\n%s\n%s\n" % (PEM_HEADER, wrapped, PEM_FOOTER)


def PEM_cert_to_DER_cert(pem_cert_string):
    """DER bytes of one PEM certificate given as str."""
    import base64
    if not pem_cert_string.startswith(PEM_HEADER):
        raise ValueError("Invalid PEM encoding; must start with %s" % PEM_HEADER)
    text = pem_cert_string.strip()
    if not text.endswith(PEM_FOOTER):
        raise ValueError("Invalid PEM encoding; must end with %s" % PEM_FOOTER)
    return base64.decodebytes(text[len(PEM_HEADER):-len(PEM_FOOTER)].encode("ascii"))


# ---- the connection layer, loaded on first use ----
# tlsctx/_connection.py subclasses the stdlib's SSLSocket and SSLObject, so
# loading it imports the stdlib's ssl.py, which costs about what the rest of
# tlsctx's import does.  `import tlsctx` leaves that to the first
# wrap_socket()/wrap_bio() or the first use of one of these names (PEP 562).
from ._tlsctx import MemoryBIO, SSLSession  # noqa: E402,F401

_CONNECTION_NAMES = frozenset({"SSLSocket", "SSLObject", "get_server_certificate",
                               "_check_sslobject_params", "_GiveupOnSSLSendfile", "_stdlib_ssl"})
# loaded on first use too: inject_into_ssl() and extract_from_ssl()
# (tlsctx/_inject.py), __version__, two module names the stdlib's ssl has, and
# the names it takes from socket.py (which costs as much as the rest of the import)
_INJECT_NAMES = frozenset({"inject_into_ssl", "extract_from_ssl", "_inject"})
_MODULE_NAMES = frozenset({"base64", "warnings"})
_SOCKET_NAMES = frozenset({"socket", "SOCK_STREAM", "create_connection", "SOL_SOCKET", "SO_TYPE",
                           "_GLOBAL_DEFAULT_TIMEOUT"})
_LAZY_NAMES = (_CONNECTION_NAMES | _INJECT_NAMES | _MODULE_NAMES | _SOCKET_NAMES
               | {"__version__"})


def _stdlib_ssl_module():
    """The stdlib's ssl module, which the connection layer and the injection
    build on, loaded if need be, even where ``sys.modules["ssl"]`` is tlsctx
    (the drop-in use): then the stdlib's module is imported under its name
    and tlsctx is put back, the state an eager import used to leave."""
    current = sys.modules.get("ssl")
    if current is not sys.modules[__name__]:
        return current if current is not None else __import__("ssl")
    if _STDLIB_SSL_AT_IMPORT is not None:
        return _STDLIB_SSL_AT_IMPORT   # the one loaded before tlsctx replaced it
    with _STDLIB_SSL_LOCK:   # one thread puts the stdlib's in place at a time
        if sys.modules.get("ssl") is not current:
            return _stdlib_ssl_module()
        del sys.modules["ssl"]
        try:
            return __import__("ssl")
        finally:
            sys.modules["ssl"] = current


_STDLIB_SSL_LOCK = _thread.allocate_lock()
# the stdlib's ssl if something imported it before tlsctx (nothing is imported)
_STDLIB_SSL_AT_IMPORT = sys.modules.get("ssl")


def _submodule(name):
    """tlsctx.<name>, imported if need be (not with `from . import`, whose
    attribute check would call __getattr__ below for a lazy name)."""
    qualified = __name__ + "." + name
    __import__(qualified)
    return sys.modules[qualified]


def _connection_layer():
    """tlsctx._connection, loaded if need be; its names become this module's
    and SSLContext's socket and object classes (unless replaced meanwhile)."""
    _connection = _submodule("_connection")
    namespace = globals()
    if "SSLSocket" not in namespace:
        for name in _CONNECTION_NAMES:
            namespace[name] = getattr(_connection, name)
        for attribute, name in (("sslsocket_class", "SSLSocket"), ("sslobject_class", "SSLObject")):
            if isinstance(vars(SSLContext).get(attribute), _ConnectionClass):
                setattr(SSLContext, attribute, namespace[name])
    return _connection


def _load_lazily(name):
    """The value of a lazy name, which becomes a plain global from then on."""
    if name in _CONNECTION_NAMES:
        return getattr(_connection_layer(), name)
    if name in _INJECT_NAMES:
        value = _submodule("_inject")
        if name != "_inject":
            value = getattr(value, name)
    elif name == "__version__":
        value = _submodule("_version").__version__
    elif name in _SOCKET_NAMES:
        value = getattr(__import__("socket"), name)
    else:
        value = __import__(name)
    globals()[name] = value
    return value


def __getattr__(name):
    if name in _LAZY_NAMES:
        return _load_lazily(name)
    if name == "__all__":
        # There is none (the stdlib's ssl has none): `from tlsctx import *`
        # asks for it, then takes every public name of the module's dict,
        # where the lazy names are put first.
        for lazy in __dir__():
            if not lazy.startswith("_") and lazy not in globals():
                _load_lazily(lazy)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | _LAZY_NAMES)


# ---- private helpers the stdlib's ssl module has (tests and modules use them) ----

def _dnsname_match(dn, hostname):
    """RFC 6125 matching of one DNS name from a certificate: case-insensitive,
    a wildcard only as the whole left-most label of a name with more labels,
    and matching one label of at least one character."""
    if not dn:
        return False
    stars = dn.count("*")
    if stars == 0:
        return dn.lower() == hostname.lower()
    if stars > 1:
        raise CertificateError("too many wildcards in certificate DNS name: %r." % (dn,))
    left, dot, rest = dn.partition(".")
    if "*" in rest:
        raise CertificateError(
            "wildcard can only be present in the leftmost label: %r." % (dn,))
    if not dot:
        raise CertificateError(
            "sole wildcard without additional labels are not support: %r." % (dn,))
    if left != "*":
        raise CertificateError(
            "partial wildcards in leftmost label are not supported: %r." % (dn,))
    host_left, dot, host_rest = hostname.partition(".")
    return bool(host_left and dot) and rest.lower() == host_rest.lower()


def _inet_paton(ipname):
    """Packed bytes of an IPv4 (quad-dotted only) or IPv6 address text."""
    try:
        packed = _socket.inet_aton(ipname)
    except OSError:
        packed = None
    if packed is not None:
        if _socket.inet_ntoa(packed) != ipname:
            raise ValueError("%r is not a quad-dotted IPv4 address." % (ipname,))
        return packed
    try:
        return _socket.inet_pton(_socket.AF_INET6, ipname)
    except OSError:
        raise ValueError("%r is neither an IPv4 nor an IP6 address." % (ipname,)) from None
    except AttributeError:  # no IPv6 on this platform
        raise ValueError("%r is not an IPv4 address." % (ipname,)) from None


def _ipaddress_match(cert_ipaddress, host_ip):
    """Whether a certificate's IP address text (OpenSSL may end it with a
    newline) is the packed address host_ip."""
    return _inet_paton(cert_ipaddress.rstrip()) == host_ip


def _sslcopydoc(func):
    """Give an SSLSocket method the docstring of SSLObject's method of that name."""
    func.__doc__ = getattr(_connection_layer().SSLObject, func.__name__).__doc__
    return func



def clear_trust_cache():
    """Forget every parsed trust source and shared trust store.

    Contexts keep what they already loaded; later loads parse again."""
    _tlsctx._trust_cache_clear()


def trust_cache_info():
    """Sizes, bounds and counters of the process-wide trust cache."""
    return _tlsctx._trust_cache_info()
