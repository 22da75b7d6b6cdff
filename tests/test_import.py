"""What `import tlsctx` loads (issue 16: import no slower than the stdlib's).

tlsctx's connection layer subclasses the stdlib's SSLSocket and SSLObject, so
it needs the stdlib's ssl.py; it is loaded on first use (PEP 562), as are
inject_into_ssl()/extract_from_ssl(), the module names base64 and warnings,
and the names the stdlib's ssl takes from socket.py.  Each case
runs in a fresh interpreter, where nothing else has imported ssl yet.
"""
import json
import socket
import subprocess
import sys

import pytest

import tlsctx

LAZY = ("SSLSocket", "SSLObject", "_check_sslobject_params", "_GiveupOnSSLSendfile",
        "inject_into_ssl", "extract_from_ssl", "get_server_certificate", "base64", "warnings",
        "__version__", "socket", "create_connection", "SOCK_STREAM", "SOL_SOCKET", "SO_TYPE")


def fresh(code):
    """Run `code` in a fresh interpreter; it prints one JSON value."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_nothing_the_stdlib_ssl_does_not_and_not_ssl_itself():
    new_modules = """
import json, sys
before = set(sys.modules)
import %s
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    mine = set(fresh(new_modules % "tlsctx"))
    theirs = set(fresh(new_modules % "ssl"))
    assert "ssl" not in mine and "socket" not in mine
    assert "tlsctx._connection" not in mine and "tlsctx._inject" not in mine
    extra = {name for name in mine - theirs if not name.startswith("tlsctx")}
    assert extra == set(), "import tlsctx loads what import ssl does not: %s" % sorted(extra)


def test_lazy_names_resolve_and_load_ssl_on_first_use():
    facts = fresh("""
import json, sys
import tlsctx
facts = {"ssl_after_import": "ssl" in sys.modules,
         "listed": all(name in dir(tlsctx) for name in %r),
         "stdlib_context_is_not_ours": isinstance(object(), tlsctx.SSLContext),
         "ssl_after_isinstance": "ssl" in sys.modules}
cls = tlsctx.SSLContext.sslsocket_class
import ssl
facts["socket_class"] = cls is tlsctx.SSLSocket and issubclass(cls, ssl.SSLSocket)
facts["object_class"] = (tlsctx.SSLContext.sslobject_class is tlsctx.SSLObject
                         and issubclass(tlsctx.SSLObject, ssl.SSLObject))
facts["class_attributes"] = (vars(tlsctx.SSLContext)["sslsocket_class"] is tlsctx.SSLSocket
                             and vars(tlsctx.SSLContext)["sslobject_class"] is tlsctx.SSLObject)
facts["globals"] = all(name in vars(tlsctx) for name in ("SSLSocket", "SSLObject"))
print(json.dumps(facts))
""" % (LAZY,))
    assert facts == {"ssl_after_import": False, "listed": True,
                     "stdlib_context_is_not_ours": False, "ssl_after_isinstance": False,
                     "socket_class": True, "object_class": True, "class_attributes": True,
                     "globals": True}


def test_wrap_bio_loads_the_connection_layer():
    """A fresh process's first wrap_bio() works without anything touching
    the lazy names first, and hands out tlsctx's SSLObject."""
    facts = fresh("""
import json, sys
import tlsctx
ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
before = "ssl" in sys.modules
obj = ctx.wrap_bio(tlsctx.MemoryBIO(), tlsctx.MemoryBIO(), server_hostname="localhost")
try:
    obj.do_handshake()
except tlsctx.SSLWantReadError as exc:
    want_read = True
print(json.dumps([before, type(obj).__name__, type(obj).__module__, want_read]))
""")
    assert facts == [False, "SSLObject", "tlsctx", True]


@pytest.mark.parametrize("first", ["wrap_socket", "wrap_bio", "SSLSocket", "inject"])
def test_drop_in_before_the_connection_layer_loads(first):
    """sys.modules["ssl"] = tlsctx right after `import tlsctx`, before
    anything imported the stdlib's ssl: the connection layer and the
    injection, loaded later, still build on the stdlib's own module, and
    `ssl` stays tlsctx."""
    facts = fresh("""
import json, socket, sys
import tlsctx
sys.modules["ssl"] = tlsctx
import ssl
first = %r
ctx = ssl.create_default_context()
if first == "wrap_socket":
    sock = ctx.wrap_socket(socket.socket(), server_hostname="localhost", do_handshake_on_connect=False)
    sock.close()
elif first == "wrap_bio":
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
elif first == "SSLSocket":
    ssl.SSLSocket
else:
    tlsctx.inject_into_ssl()
    tlsctx.extract_from_ssl()
bases = [c.__module__ for c in tlsctx.SSLSocket.__mro__] + [c.__module__ for c in tlsctx.SSLObject.__mro__]
print(json.dumps([sys.modules["ssl"] is tlsctx, "ssl" in bases, tlsctx._stdlib_ssl is not tlsctx,
                  tlsctx._stdlib_ssl.__name__]))
""" % first)
    assert facts == [True, True, True, "ssl"]


def test_drop_in_keeps_the_stdlib_ssl_loaded_before():
    """`import ssl; import tlsctx; sys.modules["ssl"] = tlsctx` (what
    CPython's suites do under tools/run_cpython_tests.py): tlsctx's classes
    subclass that very stdlib module's, not a second copy of it."""
    facts = fresh("""
import json, sys
import ssl as stdlib_ssl
import tlsctx
sys.modules["ssl"] = tlsctx
print(json.dumps([issubclass(tlsctx.SSLSocket, stdlib_ssl.SSLSocket),
                  issubclass(tlsctx.SSLObject, stdlib_ssl.SSLObject),
                  tlsctx._stdlib_ssl is stdlib_ssl, sys.modules["ssl"] is tlsctx]))
""")
    assert facts == [True, True, True, True]


def test_lazy_module_names_and_version():
    import base64
    import warnings

    from tlsctx import _version
    assert tlsctx.base64 is base64 and tlsctx.warnings is warnings
    for name in ("socket", "create_connection", "SOCK_STREAM", "SOL_SOCKET", "SO_TYPE",
                 "_GLOBAL_DEFAULT_TIMEOUT"):
        assert getattr(tlsctx, name) is getattr(socket, name), name
    assert tlsctx.__version__ == _version.__version__
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        tlsctx.no_such_name


def test_star_import_takes_the_lazy_names():
    names = fresh("""
import json
namespace = {}
exec("from tlsctx import *", namespace)
print(json.dumps(sorted(namespace)))
""")
    public_lazy = {name for name in LAZY if not name.startswith("_")}
    assert public_lazy <= set(names)
    assert "get_server_certificate" in names and "SSLContext" in names
    # as without lazy names: no __all__ (the stdlib's ssl has none either)
    assert not hasattr(tlsctx, "__all__")


def test_inject_is_loaded_on_first_use():
    facts = fresh("""
import json, sys
import tlsctx
loaded = "tlsctx._inject" in sys.modules
import ssl
old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
tlsctx.inject_into_ssl()
try:
    injected = ssl.SSLContext is tlsctx.SSLContext and isinstance(old, ssl.SSLContext)
finally:
    tlsctx.extract_from_ssl()
print(json.dumps([loaded, injected, ssl.SSLContext is not tlsctx.SSLContext]))
""")
    assert facts == [False, True, True]


@pytest.mark.parametrize("how", ["instance", "subclass"])
def test_socket_class_can_be_replaced_before_first_use(how):
    """sslsocket_class set on an instance or a subclass before the layer is
    loaded wins over the lazy default, as it would over the stdlib's."""
    got = fresh("""
import json
import tlsctx
class Mine(tlsctx.SSLObject):
    pass
if %r == "instance":
    ctx = tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)
    ctx.sslobject_class = Mine
else:
    class Context(tlsctx.SSLContext):
        sslobject_class = Mine
    ctx = Context(tlsctx.PROTOCOL_TLS_CLIENT)
obj = ctx.wrap_bio(tlsctx.MemoryBIO(), tlsctx.MemoryBIO(), server_hostname="localhost")
print(json.dumps([type(obj).__name__, tlsctx.SSLContext.sslobject_class.__name__]))
""" % how)
    assert got == ["Mine", "SSLObject"]
