# Type information for the tlsctx package: the context half of the stdlib's
# ssl module, with CPython 3.13's API on every supported interpreter, plus
# load_cert_chain(certdata=, keydata=) and the trust-cache functions.
import enum
import socket
import ssl
from _typeshed import ReadableBuffer, StrOrBytesPath
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, NamedTuple, TypedDict, overload, type_check_only

from typing_extensions import Self, TypeAlias, deprecated

from ._tlsctx import (
    RAND_add as RAND_add,
    RAND_bytes as RAND_bytes,
    RAND_status as RAND_status,
    _DEFAULT_CIPHERS as _DEFAULT_CIPHERS,
    _OPENSSL_API_VERSION as _OPENSSL_API_VERSION,
    ENCODING_DER as ENCODING_DER,
    ENCODING_PEM as ENCODING_PEM,
    HAS_ALPN as HAS_ALPN,
    HAS_ECDH as HAS_ECDH,
    HAS_NPN as HAS_NPN,
    HAS_PHA as HAS_PHA,
    HAS_PSK as HAS_PSK,
    HAS_PSK_TLS13 as HAS_PSK_TLS13,
    HAS_SNI as HAS_SNI,
    HAS_SSLv2 as HAS_SSLv2,
    HAS_SSLv3 as HAS_SSLv3,
    HAS_TLSv1 as HAS_TLSv1,
    HAS_TLSv1_1 as HAS_TLSv1_1,
    HAS_TLSv1_2 as HAS_TLSv1_2,
    HAS_TLSv1_3 as HAS_TLSv1_3,
    HOSTFLAG_ALWAYS_CHECK_SUBJECT as HOSTFLAG_ALWAYS_CHECK_SUBJECT,
    HOSTFLAG_MULTI_LABEL_WILDCARDS as HOSTFLAG_MULTI_LABEL_WILDCARDS,
    HOSTFLAG_NEVER_CHECK_SUBJECT as HOSTFLAG_NEVER_CHECK_SUBJECT,
    HOSTFLAG_NO_PARTIAL_WILDCARDS as HOSTFLAG_NO_PARTIAL_WILDCARDS,
    HOSTFLAG_NO_WILDCARDS as HOSTFLAG_NO_WILDCARDS,
    HOSTFLAG_SINGLE_LABEL_SUBDOMAINS as HOSTFLAG_SINGLE_LABEL_SUBDOMAINS,
    OPENSSL_VERSION as OPENSSL_VERSION,
    OPENSSL_VERSION_INFO as OPENSSL_VERSION_INFO,
    OPENSSL_VERSION_NUMBER as OPENSSL_VERSION_NUMBER,
    PROTO_MAXIMUM_SUPPORTED as PROTO_MAXIMUM_SUPPORTED,
    PROTO_MINIMUM_SUPPORTED as PROTO_MINIMUM_SUPPORTED,
    PROTO_SSLv3 as PROTO_SSLv3,
    PROTO_TLSv1 as PROTO_TLSv1,
    PROTO_TLSv1_1 as PROTO_TLSv1_1,
    PROTO_TLSv1_2 as PROTO_TLSv1_2,
    PROTO_TLSv1_3 as PROTO_TLSv1_3,
    CertificateError as CertificateError,
    SSLCertVerificationError as SSLCertVerificationError,
    SSLEOFError as SSLEOFError,
    SSLError as SSLError,
    SSLSyscallError as SSLSyscallError,
    SSLWantReadError as SSLWantReadError,
    SSLWantWriteError as SSLWantWriteError,
    SSLZeroReturnError as SSLZeroReturnError,
    _CertDict,
    _Cipher,
    _Password,
    _SSLContext as _SSLContext,
    get_sigalgs as get_sigalgs,
)
from ._version import __version__ as __version__

# two of the names the stdlib's ssl takes from socket (tlsctx loads socket.py on
# first use); stubtest cannot tell these plain ints from tlsctx's own
from socket import SO_TYPE as SO_TYPE, SOL_SOCKET as SOL_SOCKET

socket_error = OSError

CHANNEL_BINDING_TYPES: list[str]
HAS_NEVER_CHECK_COMMON_NAME: bool

# ---- enums ---------------------------------------------------------------------

class _SSLMethod(enum.IntEnum):
    PROTOCOL_TLS = 2
    PROTOCOL_TLSv1 = 3
    PROTOCOL_TLSv1_1 = 4
    PROTOCOL_TLSv1_2 = 5
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17
    PROTOCOL_SSLv23 = 2

PROTOCOL_SSLv23: _SSLMethod
PROTOCOL_TLS: _SSLMethod
PROTOCOL_TLS_CLIENT: _SSLMethod
PROTOCOL_TLS_SERVER: _SSLMethod
PROTOCOL_TLSv1: _SSLMethod
PROTOCOL_TLSv1_1: _SSLMethod
PROTOCOL_TLSv1_2: _SSLMethod

class Options(enum.IntFlag):
    OP_ALL = 0x80000050
    OP_NO_SSLv2 = 0
    OP_NO_SSLv3 = 0x2000000
    OP_NO_TLSv1 = 0x4000000
    OP_NO_TLSv1_1 = 0x10000000
    OP_NO_TLSv1_2 = 0x8000000
    OP_NO_TLSv1_3 = 0x20000000
    OP_CIPHER_SERVER_PREFERENCE = 0x400000
    OP_SINGLE_DH_USE = 0
    OP_SINGLE_ECDH_USE = 0
    OP_NO_COMPRESSION = 0x20000
    OP_NO_TICKET = 0x4000
    OP_NO_RENEGOTIATION = 0x40000000
    OP_ENABLE_MIDDLEBOX_COMPAT = 0x100000
    OP_IGNORE_UNEXPECTED_EOF = 0x80
    OP_LEGACY_SERVER_CONNECT = 0x4
    OP_ENABLE_KTLS = 0x8

OP_ALL: Options
OP_NO_SSLv2: Options
OP_NO_SSLv3: Options
OP_NO_TLSv1: Options
OP_NO_TLSv1_1: Options
OP_NO_TLSv1_2: Options
OP_NO_TLSv1_3: Options
OP_CIPHER_SERVER_PREFERENCE: Options
OP_SINGLE_DH_USE: Options
OP_SINGLE_ECDH_USE: Options
OP_NO_COMPRESSION: Options
OP_NO_TICKET: Options
OP_NO_RENEGOTIATION: Options
OP_ENABLE_MIDDLEBOX_COMPAT: Options
OP_IGNORE_UNEXPECTED_EOF: Options
OP_LEGACY_SERVER_CONNECT: Options
OP_ENABLE_KTLS: Options

class VerifyMode(enum.IntEnum):
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2

CERT_NONE: VerifyMode
CERT_OPTIONAL: VerifyMode
CERT_REQUIRED: VerifyMode

class VerifyFlags(enum.IntFlag):
    VERIFY_DEFAULT = 0
    VERIFY_CRL_CHECK_LEAF = 0x4
    VERIFY_CRL_CHECK_CHAIN = 0xC
    VERIFY_X509_STRICT = 0x20
    VERIFY_ALLOW_PROXY_CERTS = 0x40
    VERIFY_X509_TRUSTED_FIRST = 0x8000
    VERIFY_X509_PARTIAL_CHAIN = 0x80000

VERIFY_DEFAULT: VerifyFlags
VERIFY_CRL_CHECK_LEAF: VerifyFlags
VERIFY_CRL_CHECK_CHAIN: VerifyFlags
VERIFY_X509_STRICT: VerifyFlags
VERIFY_ALLOW_PROXY_CERTS: VerifyFlags
VERIFY_X509_TRUSTED_FIRST: VerifyFlags
VERIFY_X509_PARTIAL_CHAIN: VerifyFlags

class TLSVersion(enum.IntEnum):
    MINIMUM_SUPPORTED = -2
    SSLv3 = 768
    TLSv1 = 769
    TLSv1_1 = 770
    TLSv1_2 = 771
    TLSv1_3 = 772
    MAXIMUM_SUPPORTED = -1

class AlertDescription(enum.IntEnum):
    ALERT_DESCRIPTION_CLOSE_NOTIFY = 0
    ALERT_DESCRIPTION_UNEXPECTED_MESSAGE = 10
    ALERT_DESCRIPTION_BAD_RECORD_MAC = 20
    ALERT_DESCRIPTION_RECORD_OVERFLOW = 22
    ALERT_DESCRIPTION_DECOMPRESSION_FAILURE = 30
    ALERT_DESCRIPTION_HANDSHAKE_FAILURE = 40
    ALERT_DESCRIPTION_BAD_CERTIFICATE = 42
    ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE = 43
    ALERT_DESCRIPTION_CERTIFICATE_REVOKED = 44
    ALERT_DESCRIPTION_CERTIFICATE_EXPIRED = 45
    ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN = 46
    ALERT_DESCRIPTION_ILLEGAL_PARAMETER = 47
    ALERT_DESCRIPTION_UNKNOWN_CA = 48
    ALERT_DESCRIPTION_ACCESS_DENIED = 49
    ALERT_DESCRIPTION_DECODE_ERROR = 50
    ALERT_DESCRIPTION_DECRYPT_ERROR = 51
    ALERT_DESCRIPTION_PROTOCOL_VERSION = 70
    ALERT_DESCRIPTION_INSUFFICIENT_SECURITY = 71
    ALERT_DESCRIPTION_INTERNAL_ERROR = 80
    ALERT_DESCRIPTION_USER_CANCELLED = 90
    ALERT_DESCRIPTION_NO_RENEGOTIATION = 100
    ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION = 110
    ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE = 111
    ALERT_DESCRIPTION_UNRECOGNIZED_NAME = 112
    ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE = 113
    ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE = 114
    ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY = 115

ALERT_DESCRIPTION_CLOSE_NOTIFY: AlertDescription
ALERT_DESCRIPTION_UNEXPECTED_MESSAGE: AlertDescription
ALERT_DESCRIPTION_BAD_RECORD_MAC: AlertDescription
ALERT_DESCRIPTION_RECORD_OVERFLOW: AlertDescription
ALERT_DESCRIPTION_DECOMPRESSION_FAILURE: AlertDescription
ALERT_DESCRIPTION_HANDSHAKE_FAILURE: AlertDescription
ALERT_DESCRIPTION_BAD_CERTIFICATE: AlertDescription
ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE: AlertDescription
ALERT_DESCRIPTION_CERTIFICATE_REVOKED: AlertDescription
ALERT_DESCRIPTION_CERTIFICATE_EXPIRED: AlertDescription
ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN: AlertDescription
ALERT_DESCRIPTION_ILLEGAL_PARAMETER: AlertDescription
ALERT_DESCRIPTION_UNKNOWN_CA: AlertDescription
ALERT_DESCRIPTION_ACCESS_DENIED: AlertDescription
ALERT_DESCRIPTION_DECODE_ERROR: AlertDescription
ALERT_DESCRIPTION_DECRYPT_ERROR: AlertDescription
ALERT_DESCRIPTION_PROTOCOL_VERSION: AlertDescription
ALERT_DESCRIPTION_INSUFFICIENT_SECURITY: AlertDescription
ALERT_DESCRIPTION_INTERNAL_ERROR: AlertDescription
ALERT_DESCRIPTION_USER_CANCELLED: AlertDescription
ALERT_DESCRIPTION_NO_RENEGOTIATION: AlertDescription
ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION: AlertDescription
ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE: AlertDescription
ALERT_DESCRIPTION_UNRECOGNIZED_NAME: AlertDescription
ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE: AlertDescription
ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE: AlertDescription
ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY: AlertDescription

class SSLErrorNumber(enum.IntEnum):
    SSL_ERROR_SSL = 1
    SSL_ERROR_WANT_READ = 2
    SSL_ERROR_WANT_WRITE = 3
    SSL_ERROR_WANT_X509_LOOKUP = 4
    SSL_ERROR_SYSCALL = 5
    SSL_ERROR_ZERO_RETURN = 6
    SSL_ERROR_WANT_CONNECT = 7
    SSL_ERROR_EOF = 8
    SSL_ERROR_INVALID_ERROR_CODE = 10

SSL_ERROR_SSL: SSLErrorNumber
SSL_ERROR_WANT_READ: SSLErrorNumber
SSL_ERROR_WANT_WRITE: SSLErrorNumber
SSL_ERROR_WANT_X509_LOOKUP: SSLErrorNumber
SSL_ERROR_SYSCALL: SSLErrorNumber
SSL_ERROR_ZERO_RETURN: SSLErrorNumber
SSL_ERROR_WANT_CONNECT: SSLErrorNumber
SSL_ERROR_EOF: SSLErrorNumber
SSL_ERROR_INVALID_ERROR_CODE: SSLErrorNumber

# ---- ASN.1 objects and Purpose -------------------------------------------------

# The tuple fields of _ASN1Object; the runtime class is a namedtuple subclass.
@type_check_only
class _ASN1Fields(NamedTuple):
    nid: int
    shortname: str
    longname: str
    oid: str

class _ASN1Object(_ASN1Fields):
    def __new__(cls, oid: str) -> Self: ...
    @classmethod
    def fromnid(cls, nid: int) -> Self: ...
    @classmethod
    def fromname(cls, name: str) -> Self: ...

class Purpose(_ASN1Object, enum.Enum):
    # Enum replaces the inherited constructor: Purpose(value) looks a member up.
    def __new__(cls, value: object) -> Self: ...
    SERVER_AUTH = (129, "serverAuth", "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.1")
    CLIENT_AUTH = (130, "clientAuth", "TLS Web Client Authentication", "1.3.6.1.5.5.7.3.2")

# ---- contexts -------------------------------------------------------------------

# The stdlib's Purpose members are accepted wherever tlsctx's are.
_AnyPurpose: TypeAlias = Purpose | ssl.Purpose

# sni_callback(connection, server_name, context): None to go on, or an
# ALERT_DESCRIPTION_* value to abort the handshake with that alert.
_SNICallback: TypeAlias = Callable[[SSLSocket | SSLObject, str | None, SSLContext], int | None]

class DefaultVerifyPaths(NamedTuple):
    cafile: str | None
    capath: str | None
    openssl_cafile_env: str
    openssl_cafile: str
    openssl_capath_env: str
    openssl_capath: str

def get_default_verify_paths() -> DefaultVerifyPaths: ...

class _ContextType(type):
    def __instancecheck__(cls, obj: object) -> bool: ...

class SSLContext(_SSLContext, metaclass=_ContextType):
    sni_callback: _SNICallback | None
    @overload
    def __new__(cls, protocol: int, *args: Any, **kwargs: Any) -> Self: ...
    @overload
    @deprecated("SSLContext() without a protocol is deprecated; use PROTOCOL_TLS_CLIENT or PROTOCOL_TLS_SERVER")
    def __new__(cls, protocol: None = None, *args: Any, **kwargs: Any) -> Self: ...
    @property
    def protocol(self) -> _SSLMethod: ...
    @property
    def options(self) -> Options: ...
    @options.setter
    def options(self, value: int) -> None: ...
    @property
    def verify_flags(self) -> VerifyFlags: ...
    @verify_flags.setter
    def verify_flags(self, value: int) -> None: ...
    @property
    def verify_mode(self) -> VerifyMode: ...
    @verify_mode.setter
    def verify_mode(self, value: int) -> None: ...
    @property
    def minimum_version(self) -> TLSVersion: ...
    @minimum_version.setter
    def minimum_version(self, value: int) -> None: ...
    @property
    def maximum_version(self) -> TLSVersion: ...
    @maximum_version.setter
    def maximum_version(self, value: int) -> None: ...
    @property
    def hostname_checks_common_name(self) -> bool: ...
    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None: ...
    def load_default_certs(self, purpose: _AnyPurpose = ...) -> None: ...
    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None: ...
    @deprecated("ssl NPN is deprecated, use ALPN instead")
    def set_npn_protocols(self, npn_protocols: Iterable[str]) -> None: ...
    def set_servername_callback(
        self, server_name_callback: Callable[[SSLSocket | SSLObject, str | None, SSLContext], int | None] | None
    ) -> None: ...
    # connection layer: see the section at the end of this file
    sslsocket_class: type[SSLSocket]
    sslobject_class: type[SSLObject]
    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: SSLSession | None = None,
    ) -> SSLSocket: ...
    def wrap_bio(
        self,
        incoming: MemoryBIO | ssl.MemoryBIO,
        outgoing: MemoryBIO | ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: SSLSession | None = None,
    ) -> SSLObject: ...

def create_default_context(
    purpose: _AnyPurpose = ...,
    *,
    cafile: StrOrBytesPath | None = None,
    capath: StrOrBytesPath | None = None,
    cadata: str | ReadableBuffer | None = None,
) -> SSLContext: ...
def _create_unverified_context(
    protocol: int | None = None,
    *,
    cert_reqs: int | None = ...,
    check_hostname: bool = False,
    purpose: _AnyPurpose = ...,
    certfile: StrOrBytesPath | None = None,
    keyfile: StrOrBytesPath | None = None,
    cafile: StrOrBytesPath | None = None,
    capath: StrOrBytesPath | None = None,
    cadata: str | ReadableBuffer | None = None,
) -> SSLContext: ...

_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context

# ---- certificate text helpers ------------------------------------------------------

PEM_HEADER: Final[str]
PEM_FOOTER: Final[str]

def cert_time_to_seconds(cert_time: str) -> int: ...
def DER_cert_to_PEM_cert(der_cert_bytes: ReadableBuffer) -> str: ...
def PEM_cert_to_DER_cert(pem_cert_string: str) -> bytes: ...

# ---- the trust cache (tlsctx only) -------------------------------------------------

@type_check_only
class _TrustCacheInfo(TypedDict):
    sources: int
    max_sources: int
    stores: int
    max_stores: int
    hits: int
    store_builds: int
    parses: int

def get_protocol_name(protocol_code: int) -> str: ...
def inject_into_ssl() -> None: ...
def extract_from_ssl() -> None: ...
def clear_trust_cache() -> None: ...
def trust_cache_info() -> _TrustCacheInfo: ...

# ---- connection layer (tlsctx/_connection.py): SSLSocket and SSLObject are thin
# subclasses of the stdlib's classes; MemoryBIO and SSLSession are C types.
# tlsctx/_connection.py is loaded on first use (PEP 562 module __getattr__, not
# declared here so that mypy still rejects unknown names); dir() lists them.

def __dir__() -> list[str]: ...

from ._tlsctx import MemoryBIO as MemoryBIO, SSLSession as SSLSession

class SSLSocket(ssl.SSLSocket):
    # the stdlib's stub types these with ssl's own classes
    context: SSLContext  # type: ignore[assignment]
    session: SSLSession | None  # type: ignore[assignment]
    # CPython 3.13's API, on every interpreter
    def get_verified_chain(self) -> list[bytes]: ...
    def get_unverified_chain(self) -> list[bytes]: ...
    # CPython 3.15's API, on every interpreter
    def group(self) -> str | None: ...
    def client_sigalg(self) -> str | None: ...
    def server_sigalg(self) -> str | None: ...

class SSLObject(ssl.SSLObject):
    context: SSLContext  # type: ignore[assignment]
    session: SSLSession | None  # type: ignore[assignment]
    def get_verified_chain(self) -> list[bytes]: ...
    def get_unverified_chain(self) -> list[bytes]: ...
    def group(self) -> str | None: ...
    def client_sigalg(self) -> str | None: ...
    def server_sigalg(self) -> str | None: ...

def get_server_certificate(
    addr: tuple[str, int], ssl_version: int | None = None, ca_certs: str | None = None, timeout: float | None = ...
) -> str: ...
