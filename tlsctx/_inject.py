"""inject_into_ssl() / extract_from_ssl(): the stdlib ``ssl`` module hands
out tlsctx contexts.

How: the module's ``SSLContext`` and its context factories are replaced in
its namespace, so every ``ssl.SSLContext``, ``from ssl import SSLContext``
and ``isinstance(ctx, ssl.SSLContext)`` evaluated after injection sees
tlsctx's class.  The stdlib SSLContext's own methods look ``SSLContext`` up
in that namespace at call time (``super(SSLContext, SSLContext).options
.__set__(self, value)`` in every property setter), so while injected they
are swapped for copies of themselves whose globals name the stdlib's class:
contexts made before injection keep working.  (A property on the module's
class instead of a namespace change is not enough: CPython 3.14's
specialized attribute loads read the module's dict directly.)
``isinstance(ctx, ssl.SSLContext)`` also holds, while injected, for stdlib
contexts made earlier.

Code that bound the stdlib's class or made contexts before injection keeps
them: urllib3's and pip's vendored urllib3's module-level ``SSLContext`` is
patched when already imported (as truststore does); anything else must be
imported after inject_into_ssl().
"""
import sys
import threading
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl as _stdlib_ssl
else:
    # this module is loaded on first use, not by `import tlsctx`; the
    # stdlib's ssl even where sys.modules["ssl"] is tlsctx
    from . import _stdlib_ssl_module
    _stdlib_ssl = _stdlib_ssl_module()

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


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _rebound(obj, namespace):
    """`obj` (a function, property or class/static method of the stdlib's
    SSLContext) with its functions' globals replaced by `namespace`, or `obj`
    itself when none of them uses the name SSLContext."""
    if isinstance(obj, types.FunctionType):
        if "SSLContext" not in _code_names(obj.__code__):
            return obj
        clone = types.FunctionType(obj.__code__, namespace, obj.__name__, obj.__defaults__,
                                   obj.__closure__)
        clone.__kwdefaults__ = obj.__kwdefaults__
        clone.__qualname__ = obj.__qualname__
        clone.__doc__ = obj.__doc__
        clone.__module__ = obj.__module__
        clone.__dict__.update(obj.__dict__)
        return clone
    if isinstance(obj, property):
        parts = (obj.fget, obj.fset, obj.fdel)
        new = tuple(None if f is None else _rebound(f, namespace) for f in parts)
        return obj if new == parts else property(*new, obj.__doc__)
    if isinstance(obj, (classmethod, staticmethod)):
        inner = _rebound(obj.__func__, namespace)
        return obj if inner is obj.__func__ else type(obj)(inner)
    return obj


def is_injected():
    """Whether inject_into_ssl() is in effect."""
    return _saved is not None


def accepts_stdlib_context(obj):
    """While injected, a stdlib context made before injection still passes
    isinstance(obj, ssl.SSLContext)."""
    saved = _saved
    return saved is not None and isinstance(obj, saved["SSLContext"])


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
        stdlib_class = namespace["SSLContext"]
        saved = {"SSLContext": stdlib_class, "factories": {}, "bound": {}, "methods": {}}
        # the stdlib class's methods keep seeing the stdlib class
        private = dict(namespace)
        for name, value in list(vars(stdlib_class).items()):
            clone = _rebound(value, private)
            if clone is not value:
                saved["methods"][name] = value
                setattr(stdlib_class, name, clone)
        for module_name in _BOUND_ELSEWHERE:
            module = sys.modules.get(module_name)
            if module is not None and getattr(module, "SSLContext", None) is stdlib_class:
                saved["bound"][module_name] = module
        ours = {id(namespace[name]): getattr(tlsctx, name) for name in _FACTORIES}
        for name in _FACTORY_NAMES:
            if id(namespace.get(name)) in ours:
                saved["factories"][name] = namespace[name]
                namespace[name] = ours[id(namespace[name])]
        for module in saved["bound"].values():
            module.SSLContext = tlsctx.SSLContext
        _saved = saved
        namespace["SSLContext"] = tlsctx.SSLContext


def extract_from_ssl():
    """Undo inject_into_ssl(): the stdlib ``ssl`` module as it was before it.
    Idempotent and thread-safe.  Contexts made meanwhile stay tlsctx's."""
    global _saved
    with _lock:
        saved = _saved
        if saved is None:
            return
        namespace = vars(_stdlib_ssl)
        namespace["SSLContext"] = saved["SSLContext"]
        namespace.update(saved["factories"])
        for name, value in saved["methods"].items():
            setattr(saved["SSLContext"], name, value)
        for module in saved["bound"].values():
            module.SSLContext = saved["SSLContext"]
        _saved = None
