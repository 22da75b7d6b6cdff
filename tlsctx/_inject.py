"""inject_into_ssl() / extract_from_ssl(): the stdlib ``ssl`` module hands
out tlsctx contexts.

How: ``ssl.SSLContext`` is read through a property of the module's class
(``ssl.__class__`` becomes a ModuleType subclass), so every ``ssl.SSLContext``
and ``from ssl import SSLContext`` evaluated after injection gets tlsctx's
class, while the module's own namespace keeps the stdlib's class: the stdlib
SSLContext's property setters look ``SSLContext`` up in that namespace at call
time (``super(SSLContext, SSLContext).options.__set__(self, value)``), so
contexts made before injection keep working.  The module-level factories
(``create_default_context`` and the private ones http.client and urllib call)
are replaced in the namespace.  ``isinstance(ctx, ssl.SSLContext)`` holds for
tlsctx contexts and, while injected, for stdlib contexts made earlier too.

Code that bound the stdlib's class or made contexts before injection keeps
them: urllib3's and pip's vendored urllib3's module-level ``SSLContext`` is
patched when already imported (as truststore does); anything else must be
imported after inject_into_ssl().
"""
import sys
import threading
import types

from ._connection import _stdlib_ssl

# the stdlib's two context factories, and the names that hold them (the
# private ones are what http.client, urllib and ftplib call); a name a user
# pointed elsewhere (ssl._create_default_https_context = ...) is left alone
_FACTORIES = ("create_default_context", "_create_unverified_context")
_FACTORY_NAMES = ("create_default_context", "_create_default_https_context",
                  "_create_unverified_context", "_create_stdlib_context")
# already imported modules that bound ssl.SSLContext at their import
_BOUND_ELSEWHERE = ("urllib3.util.ssl_", "pip._vendor.urllib3.util.ssl_")

_lock = threading.RLock()
_saved = None          # while injected: what extract_from_ssl() puts back
_assigned: list = []   # while injected: a class assigned to ssl.SSLContext, if any


def _tlsctx_context_class():
    import tlsctx
    return _assigned[0] if _assigned else tlsctx.SSLContext


class _InjectedSSLModule(types.ModuleType):
    """The class of the stdlib ssl module while tlsctx is injected."""

    @property
    def SSLContext(self):
        return _tlsctx_context_class()

    @SSLContext.setter
    def SSLContext(self, value):
        # e.g. another library's inject_into_ssl(); undone by extract_from_ssl()
        _assigned[:] = [value]


def is_injected():
    """Whether inject_into_ssl() is in effect."""
    return _saved is not None


def accepts_stdlib_context(obj):
    """While injected, a stdlib context made before injection still passes
    isinstance(obj, ssl.SSLContext)."""
    return _saved is not None and isinstance(obj, _saved["SSLContext"])


def inject_into_ssl():
    """Make the stdlib ``ssl`` module hand out tlsctx contexts.

    After it, ``ssl.SSLContext``, ``ssl.create_default_context()`` and the
    private factories urllib, http.client and asyncio use give tlsctx
    contexts, and ``isinstance(ctx, ssl.SSLContext)`` holds for them.
    Idempotent and thread-safe; undone by extract_from_ssl().  Modules that
    bound ``ssl.SSLContext`` or made contexts at their import time (aiohttp
    does both) must be imported after it; urllib3's binding (and pip's
    vendored copy) is patched when already imported."""
    global _saved
    import tlsctx
    with _lock:
        if _saved is not None:
            return
        namespace = vars(_stdlib_ssl)
        saved = {"__class__": _stdlib_ssl.__class__,
                 "SSLContext": namespace["SSLContext"],
                 "factories": {},
                 "bound": {}}
        for module_name in _BOUND_ELSEWHERE:
            module = sys.modules.get(module_name)
            if module is not None and getattr(module, "SSLContext", None) is saved["SSLContext"]:
                saved["bound"][module_name] = module
        ours = {id(namespace[name]): getattr(tlsctx, name) for name in _FACTORIES}
        for name in _FACTORY_NAMES:
            if id(namespace.get(name)) in ours:
                saved["factories"][name] = namespace[name]
                namespace[name] = ours[id(namespace[name])]
        for module in saved["bound"].values():
            module.SSLContext = tlsctx.SSLContext
        _assigned.clear()
        _saved = saved
        _stdlib_ssl.__class__ = _InjectedSSLModule


def extract_from_ssl():
    """Undo inject_into_ssl(): the stdlib ``ssl`` module as it was before it.
    Idempotent and thread-safe.  Contexts made meanwhile stay tlsctx's."""
    global _saved
    with _lock:
        saved = _saved
        if saved is None:
            return
        _stdlib_ssl.__class__ = saved["__class__"]
        namespace = vars(_stdlib_ssl)
        namespace.update(saved["factories"])
        namespace["SSLContext"] = saved["SSLContext"]
        for module in saved["bound"].values():
            module.SSLContext = saved["SSLContext"]
        _assigned.clear()
        _saved = None
