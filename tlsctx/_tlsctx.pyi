# Type information for the C extension tlsctx._tlsctx.
#
# Constants are plain ints here; the package (tlsctx/__init__.pyi) publishes
# them as members of their enums.  Names starting with "_" that are only used
# by the package are typed too, so that stubtest can check them.
import ssl
from _typeshed import ReadableBuffer, StrOrBytesPath
from collections.abc import Callable
from typing import Any, Final, Literal, TypedDict, final, overload, type_check_only

from typing_extensions import Self, TypeAlias, disjoint_base

# ---- shapes shared with the package stub --------------------------------------

# A password for load_cert_chain: the value, or a callable returning it.
_Password: TypeAlias = Callable[[], str | bytes | bytearray] | str | bytes | bytearray

# One relative distinguished name: ((attribute, value), ...).
_RDN: TypeAlias = tuple[tuple[str, str], ...]
# A certificate dict as returned by get_ca_certs() / getpeercert().
_CertDict: TypeAlias = dict[str, str | int | tuple[_RDN, ...] | _RDN | tuple[str, ...]]

@type_check_only
class _Cipher(TypedDict):
    id: int
    name: str
    protocol: str
    description: str
    strength_bits: int
    alg_bits: int
    aead: bool
    symmetric: str
    digest: str | None
    kea: str
    auth: str

# ---- exceptions (subclasses of the stdlib's classes of the same name) ---------

class SSLError(ssl.SSLError): ...
class SSLZeroReturnError(SSLError, ssl.SSLZeroReturnError): ...
class SSLWantReadError(SSLError, ssl.SSLWantReadError): ...
class SSLWantWriteError(SSLError, ssl.SSLWantWriteError): ...
class SSLSyscallError(SSLError, ssl.SSLSyscallError): ...
class SSLEOFError(SSLError, ssl.SSLEOFError): ...
class SSLCertVerificationError(SSLError, ssl.SSLCertVerificationError): ...

CertificateError = SSLCertVerificationError

# ---- the context type --------------------------------------------------------

@disjoint_base
class _SSLContext:
    check_hostname: bool
    # returns what was set: a str, bytes or path-like file name, or None
    keylog_filename: StrOrBytesPath | None
    maximum_version: int
    minimum_version: int
    num_tickets: int
    options: int
    post_handshake_auth: bool
    verify_flags: int
    verify_mode: int
    sni_callback: Callable[[Any, str | None, Any], int | None] | None
    _host_flags: int
    @property
    def protocol(self) -> int: ...
    @property
    def security_level(self) -> int: ...
    def __new__(cls, protocol: int) -> Self: ...
    # trust store
    def load_verify_locations(
        self,
        cafile: StrOrBytesPath | None = None,
        capath: StrOrBytesPath | None = None,
        cadata: str | ReadableBuffer | None = None,
    ) -> None: ...
    def set_default_verify_paths(self) -> None: ...
    def cert_store_stats(self) -> dict[str, int]: ...
    @overload
    def get_ca_certs(self, binary_form: Literal[False] = False) -> list[_CertDict]: ...
    @overload
    def get_ca_certs(self, binary_form: Literal[True]) -> list[bytes]: ...
    @overload
    def get_ca_certs(self, binary_form: bool = False) -> list[_CertDict] | list[bytes]: ...
    # the context's own certificate and key (certdata/keydata: tlsctx only)
    def load_cert_chain(
        self,
        certfile: StrOrBytesPath | None = None,
        keyfile: StrOrBytesPath | None = None,
        password: _Password | None = None,
        *,
        certdata: str | ReadableBuffer | None = None,
        keydata: str | ReadableBuffer | None = None,
    ) -> None: ...
    def _loaded_chain(self) -> tuple[bytes | None, list[bytes], bytes | None]: ...  # for tests
    # handshake parameters
    def set_ciphers(self, cipherlist: str, /) -> None: ...
    def get_ciphers(self) -> list[_Cipher]: ...
    def _set_alpn_protocols(self, protos: ReadableBuffer, /) -> None: ...
    def set_ecdh_curve(self, name: str | bytes, /) -> None: ...
    def load_dh_params(self, path: StrOrBytesPath, /) -> None: ...
    def session_stats(self) -> dict[str, int]: ...
    def set_psk_client_callback(
        self, callback: Callable[[str | None], tuple[str | None, bytes]] | None
    ) -> None: ...
    def set_psk_server_callback(
        self, callback: Callable[[str | None], bytes] | None, identity_hint: str | None = None
    ) -> None: ...
    # CPython 3.15's context API
    def set_groups(self, grouplist: str, /) -> None: ...
    def get_groups(self, *, include_aliases: bool = False) -> list[str]: ...
    def set_ciphersuites(self, ciphersuites: str, /) -> None: ...
    def set_client_sigalgs(self, sigalgslist: str, /) -> None: ...
    def set_server_sigalgs(self, sigalgslist: str, /) -> None: ...
    # connection layer: see the section at the end of this file
    def _wrap_socket(
        self,
        sock: Any,
        server_side: bool,
        server_hostname: str | None = None,
        *,
        owner: Any = None,
        session: SSLSession | None = None,
    ) -> Any: ...
    def _wrap_bio(
        self,
        incoming: Any,
        outgoing: Any,
        server_side: bool,
        server_hostname: str | None = None,
        *,
        owner: Any = None,
        session: SSLSession | None = None,
    ) -> Any: ...

# ---- module functions ------------------------------------------------------------

def get_default_verify_paths() -> tuple[str, str, str, str]: ...
def _set_default_verify_paths(file_env: str, file: str, dir_env: str, dir: str, /) -> None: ...
def _clear_default_verify_paths() -> None: ...
_OPENSSL_BUNDLED: bool
def get_sigalgs() -> list[str]: ...
def txt2obj(txt: str, name: bool = False) -> tuple[int, str, str, str]: ...
def nid2obj(nid: int, /) -> tuple[int, str, str, str]: ...
def _test_decode_cert(path: StrOrBytesPath, /) -> _CertDict: ...
def _trust_cache_clear() -> None: ...
def _trust_cache_info() -> dict[str, int]: ...
def _openssl_errors_pending() -> bool: ...

err_codes_to_names: dict[tuple[int, int], str]
lib_codes_to_names: dict[int, str]

# ---- constants -----------------------------------------------------------------

OPENSSL_VERSION: Final[str]
OPENSSL_VERSION_INFO: Final[tuple[int, int, int, int, int]]
OPENSSL_VERSION_NUMBER: Final[int]
_OPENSSL_API_VERSION: Final[tuple[int, int, int, int, int]]
_BUILD_OPENSSL_API_VERSION: Final[tuple[int, int, int, int, int]]
_DEFAULT_CIPHERS: Final[str]
_ERRTABLES_RELEASE: Final[str]

HAS_ALPN: Final[bool]
HAS_ECDH: Final[bool]
HAS_NPN: Final[bool]
HAS_PHA: Final[bool]
HAS_PSK: Final[bool]
HAS_PSK_TLS13: Final[bool]
HAS_SNI: Final[bool]
HAS_SSLv2: Final[bool]
HAS_SSLv3: Final[bool]
HAS_TLS_UNIQUE: Final[bool]
HAS_TLSv1: Final[bool]
HAS_TLSv1_1: Final[bool]
HAS_TLSv1_2: Final[bool]
HAS_TLSv1_3: Final[bool]

PROTOCOL_SSLv23: Final[int]
PROTOCOL_TLS: Final[int]
PROTOCOL_TLS_CLIENT: Final[int]
PROTOCOL_TLS_SERVER: Final[int]
PROTOCOL_TLSv1: Final[int]
PROTOCOL_TLSv1_1: Final[int]
PROTOCOL_TLSv1_2: Final[int]

PROTO_MINIMUM_SUPPORTED: Final[int]
PROTO_MAXIMUM_SUPPORTED: Final[int]
PROTO_SSLv3: Final[int]
PROTO_TLSv1: Final[int]
PROTO_TLSv1_1: Final[int]
PROTO_TLSv1_2: Final[int]
PROTO_TLSv1_3: Final[int]

OP_ALL: Final[int]
OP_CIPHER_SERVER_PREFERENCE: Final[int]
OP_ENABLE_KTLS: Final[int]
OP_ENABLE_MIDDLEBOX_COMPAT: Final[int]
OP_IGNORE_UNEXPECTED_EOF: Final[int]
OP_LEGACY_SERVER_CONNECT: Final[int]
OP_NO_COMPRESSION: Final[int]
OP_NO_RENEGOTIATION: Final[int]
OP_NO_SSLv2: Final[int]
OP_NO_SSLv3: Final[int]
OP_NO_TICKET: Final[int]
OP_NO_TLSv1: Final[int]
OP_NO_TLSv1_1: Final[int]
OP_NO_TLSv1_2: Final[int]
OP_NO_TLSv1_3: Final[int]
OP_SINGLE_DH_USE: Final[int]
OP_SINGLE_ECDH_USE: Final[int]

CERT_NONE: Final[int]
CERT_OPTIONAL: Final[int]
CERT_REQUIRED: Final[int]

VERIFY_ALLOW_PROXY_CERTS: Final[int]
VERIFY_CRL_CHECK_CHAIN: Final[int]
VERIFY_CRL_CHECK_LEAF: Final[int]
VERIFY_DEFAULT: Final[int]
VERIFY_X509_PARTIAL_CHAIN: Final[int]
VERIFY_X509_STRICT: Final[int]
VERIFY_X509_TRUSTED_FIRST: Final[int]

HOSTFLAG_ALWAYS_CHECK_SUBJECT: Final[int]
HOSTFLAG_MULTI_LABEL_WILDCARDS: Final[int]
HOSTFLAG_NEVER_CHECK_SUBJECT: Final[int]
HOSTFLAG_NO_PARTIAL_WILDCARDS: Final[int]
HOSTFLAG_NO_WILDCARDS: Final[int]
HOSTFLAG_SINGLE_LABEL_SUBDOMAINS: Final[int]

ENCODING_PEM: Final[int]
ENCODING_DER: Final[int]

SSL_ERROR_EOF: Final[int]
SSL_ERROR_INVALID_ERROR_CODE: Final[int]
SSL_ERROR_SSL: Final[int]
SSL_ERROR_SYSCALL: Final[int]
SSL_ERROR_WANT_CONNECT: Final[int]
SSL_ERROR_WANT_READ: Final[int]
SSL_ERROR_WANT_WRITE: Final[int]
SSL_ERROR_WANT_X509_LOOKUP: Final[int]
SSL_ERROR_ZERO_RETURN: Final[int]

ALERT_DESCRIPTION_ACCESS_DENIED: Final[int]
ALERT_DESCRIPTION_BAD_CERTIFICATE: Final[int]
ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE: Final[int]
ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE: Final[int]
ALERT_DESCRIPTION_BAD_RECORD_MAC: Final[int]
ALERT_DESCRIPTION_CERTIFICATE_EXPIRED: Final[int]
ALERT_DESCRIPTION_CERTIFICATE_REVOKED: Final[int]
ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN: Final[int]
ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE: Final[int]
ALERT_DESCRIPTION_CLOSE_NOTIFY: Final[int]
ALERT_DESCRIPTION_DECODE_ERROR: Final[int]
ALERT_DESCRIPTION_DECOMPRESSION_FAILURE: Final[int]
ALERT_DESCRIPTION_DECRYPT_ERROR: Final[int]
ALERT_DESCRIPTION_HANDSHAKE_FAILURE: Final[int]
ALERT_DESCRIPTION_ILLEGAL_PARAMETER: Final[int]
ALERT_DESCRIPTION_INSUFFICIENT_SECURITY: Final[int]
ALERT_DESCRIPTION_INTERNAL_ERROR: Final[int]
ALERT_DESCRIPTION_NO_RENEGOTIATION: Final[int]
ALERT_DESCRIPTION_PROTOCOL_VERSION: Final[int]
ALERT_DESCRIPTION_RECORD_OVERFLOW: Final[int]
ALERT_DESCRIPTION_UNEXPECTED_MESSAGE: Final[int]
ALERT_DESCRIPTION_UNKNOWN_CA: Final[int]
ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY: Final[int]
ALERT_DESCRIPTION_UNRECOGNIZED_NAME: Final[int]
ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE: Final[int]
ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION: Final[int]
ALERT_DESCRIPTION_USER_CANCELLED: Final[int]

# ---- connection layer (src/connection.c): the C types behind tlsctx.MemoryBIO
# and tlsctx.SSLSession, modelled on the stdlib's _ssl.

@final
class Certificate:
    def public_bytes(self, format: int = 1) -> Any: ...
    def get_info(self) -> _CertDict: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def RAND_add(string: str | ReadableBuffer, entropy: float, /) -> None: ...
def RAND_bytes(n: int, /) -> bytes: ...
def RAND_status() -> bool: ...

@final
class MemoryBIO:
    @property
    def pending(self) -> int: ...
    @property
    def eof(self) -> bool: ...
    def __new__(cls) -> Self: ...
    def read(self, size: int = -1, /) -> bytes: ...
    def write(self, b: ReadableBuffer, /) -> int: ...
    def write_eof(self) -> None: ...

@final
class SSLSession:
    @property
    def time(self) -> int: ...
    @property
    def timeout(self) -> int: ...
    @property
    def ticket_lifetime_hint(self) -> int: ...
    @property
    def id(self) -> bytes: ...
    @property
    def has_ticket(self) -> bool: ...
