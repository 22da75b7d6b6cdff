"""TLS connections through tlsctx contexts.

The C connection object (``_tlsctx._SSLSocket``) has the interface of the
stdlib's private ``_ssl._SSLSocket``, so the stdlib's own ``ssl.SSLSocket``
and ``ssl.SSLObject`` drive it; the classes here are thin subclasses that
give every supported interpreter the newest CPython's behaviour where older
``ssl`` modules differ (3.13's chains and recv_into, 3.14's SSLObject
parameter checks, 3.13's closing of a socket whose handshake on connect
fails, 3.15's negotiated-parameter queries).
"""
import socket as _socket
import sys as _sys
import warnings as _warnings

from ._tlsctx import ENCODING_DER as _ENCODING_DER

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl as _stdlib_ssl
else:
    # the stdlib's, even where sys.modules["ssl"] is tlsctx (the drop-in use)
    from . import _stdlib_ssl_module
    _stdlib_ssl = _stdlib_ssl_module()


def _retyped(exc):
    """`exc` as an instance of tlsctx's class of the same name, when the
    stdlib's own Python code raised a stdlib SSLError (tlsctx's classes are
    subclasses of the stdlib's, so both `except` clauses catch it)."""
    import tlsctx
    cls = getattr(tlsctx, type(exc).__name__, None)
    if cls is None or isinstance(exc, cls) or not issubclass(cls, type(exc)):
        return exc
    new = cls(*exc.args)
    new.__dict__.update(exc.__dict__)
    new.__cause__, new.__context__ = exc.__cause__, exc.__context__
    new.__suppress_context__ = exc.__suppress_context__
    return new.with_traceback(exc.__traceback__)


if _sys.version_info >= (3, 13):
    def _der_list(chain):
        return chain
else:
    class _DER(bytes):
        """A DER certificate (bytes, as 3.13's public chain methods give)
        that also answers public_bytes(), for code written for 3.10-3.12,
        where the public methods did not exist and callers reached the
        internal object's Certificate objects (pip's vendored truststore)."""
        __slots__ = ()

        def public_bytes(self, format=2):
            import tlsctx
            if format == tlsctx.ENCODING_DER:
                return bytes(self)
            if format == tlsctx.ENCODING_PEM:
                return tlsctx.DER_cert_to_PEM_cert(self)
            raise ValueError("Unsupported format")

    def _der_list(chain):  # type: ignore[misc]
        return [_DER(der) for der in chain]


class _Stdlib313:
    """What 3.13's SSLSocket and SSLObject do that 3.10-3.12's do not."""

    __slots__ = ()

    def get_verified_chain(self):
        """The peer's verified certificate chain, leaf first, as DER bytes."""
        chain = self._sslobj.get_verified_chain()
        return [] if chain is None else _der_list(
            [cert.public_bytes(_ENCODING_DER) for cert in chain])

    def get_unverified_chain(self):
        """The certificate chain the peer sent, as DER bytes."""
        chain = self._sslobj.get_unverified_chain()
        return [] if chain is None else _der_list(
            [cert.public_bytes(_ENCODING_DER) for cert in chain])


def _check_sslobject_params(server_side, context=None, server_hostname=None, session=None):
    """The ValueErrors CPython 3.14+'s SSLObject._create() raises for its
    arguments (SSLSocket always had them): a server names no host and
    resumes no session; check_hostname needs a host name."""
    if server_side and server_hostname:
        raise ValueError("server_hostname can only be specified in client mode")
    if server_side and session is not None:
        raise ValueError("session can only be specified in client mode")
    if context.check_hostname and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")


# CPython 3.14+ check SSLObject's parameters before wrapping (_check_sslobject_params)
_STDLIB_CHECKS_SSLOBJECT = hasattr(_stdlib_ssl, "_check_sslobject_params")
# CPython 3.13+ close the new SSLSocket whatever the handshake on connect raises;
# 3.10-3.12 only for OSError and ValueError, leaking the descriptor otherwise
_STDLIB_CLOSES_ON_ANY_ERROR = _sys.version_info[:2] >= (3, 13)


class SSLObject(_Stdlib313, _stdlib_ssl.SSLObject):
    """A TLS connection over two memory BIOs, made by SSLContext.wrap_bio()."""

    __module__ = "tlsctx"

    if not _STDLIB_CHECKS_SSLOBJECT:
        @classmethod
        def _create(cls, incoming, outgoing, server_side=False,
                    server_hostname=None, session=None, context=None):
            _check_sslobject_params(server_side, context, server_hostname, session)
            return super()._create(incoming, outgoing, server_side=server_side,
                                   server_hostname=server_hostname, session=session,
                                   context=context)

    # CPython 3.15's negotiated-parameter queries; None before the handshake
    def group(self):
        """The key exchange group negotiated, or None."""
        return self._sslobj.group()

    def client_sigalg(self):
        """The signature algorithm the client signed with, or None."""
        return self._sslobj.client_sigalg()

    def server_sigalg(self):
        """The signature algorithm the server signed with, or None."""
        return self._sslobj.server_sigalg()

    def selected_npn_protocol(self):
        _warnings.warn("ssl NPN is deprecated, use ALPN instead",
                       DeprecationWarning, stacklevel=2)
        return None


class SSLSocket(_Stdlib313, _stdlib_ssl.SSLSocket):
    """A TLS connection over a socket, made by SSLContext.wrap_socket()."""

    __module__ = "tlsctx"

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None,
                context=None, session=None):
        try:
            return super()._create(sock, server_side, do_handshake_on_connect,
                                   suppress_ragged_eofs, server_hostname, context,
                                   session)
        except BaseException as exc:
            if not _STDLIB_CLOSES_ON_ANY_ERROR:
                # the older _create closed the new socket for OSError and
                # ValueError only; it is the `self` of _create's frame
                tb = exc.__traceback__
                while tb is not None:
                    orphan = tb.tb_frame.f_locals.get("self")
                    if isinstance(orphan, cls):
                        try:
                            orphan.close()
                        except OSError:
                            pass
                        break
                    tb = tb.tb_next
                del tb
            if not isinstance(exc, _stdlib_ssl.SSLError):
                raise
            # "Closed before TLS handshake with data in recv buffer" is
            # raised by the stdlib's own SSLSocket._create
            new = _retyped(exc)
            if new is exc:
                raise
            raise new from exc.__cause__

    def _negotiated(self, query):
        self._checkClosed()
        return None if self._sslobj is None else getattr(self._sslobj, query)()

    def group(self):
        """The key exchange group negotiated, or None."""
        return self._negotiated("group")

    def client_sigalg(self):
        """The signature algorithm the client signed with, or None."""
        return self._negotiated("client_sigalg")

    def server_sigalg(self):
        """The signature algorithm the server signed with, or None."""
        return self._negotiated("server_sigalg")

    def selected_npn_protocol(self):
        self._checkClosed()
        _warnings.warn("ssl NPN is deprecated, use ALPN instead",
                       DeprecationWarning, stacklevel=2)
        return None

    def recv_into(self, buffer, nbytes=None, flags=0):
        # 3.13 sizes the read from the buffer's bytes, not its length
        if nbytes is None:
            self._checkClosed()
            nbytes = 1024
            if buffer is not None:
                with memoryview(buffer) as view:
                    nbytes = view.nbytes or 1024
        return super().recv_into(buffer, nbytes, flags)


# the stdlib's SSLSocket (which tlsctx's extends) raises and catches its own
_GiveupOnSSLSendfile = getattr(_stdlib_ssl, "_GiveupOnSSLSendfile", None)
if _GiveupOnSSLSendfile is None:
    class _GiveupOnSSLSendfile(Exception):  # type: ignore[no-redef]
        __module__ = "tlsctx"


def get_server_certificate(addr, ssl_version=None, ca_certs=None,
                           timeout=_socket._GLOBAL_DEFAULT_TIMEOUT):
    """Fetch the certificate of the server at `addr` (host, port) as PEM.

    With `ca_certs` the certificate is verified against those CAs first."""
    from . import (PROTOCOL_TLS_CLIENT, CERT_NONE, CERT_REQUIRED, DER_cert_to_PEM_cert,
                   _create_stdlib_context)
    host, _port = addr
    context = _create_stdlib_context(
        PROTOCOL_TLS_CLIENT if ssl_version is None else ssl_version,
        cert_reqs=CERT_REQUIRED if ca_certs is not None else CERT_NONE,
        cafile=ca_certs)
    with _socket.create_connection(addr, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as sslsock:
            der = sslsock.getpeercert(True)
    return DER_cert_to_PEM_cert(der)
