"""Unchanged libraries over tlsctx through inject_into_ssl(): urllib3,
requests, httpx (sync and async), aiohttp (client and server), asyncio
open_connection and start_tls, and `pip install` from a local HTTPS index.

Each runs against a local HTTPS server with trustme certificates: with the
right CA the body arrives byte for byte, with a server certificate from
another CA the library reports a verification error.  Each test proves the
connection went through tlsctx: the TLS object the library holds is
tlsctx's, or the verification error is tlsctx's class."""
import asyncio
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import zipfile

import pytest

import tlsctx
from peers import HOST, Certs, HTTPSServer, server_context

BODY = os.urandom(200_000)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def injected():
    tlsctx.inject_into_ssl()
    try:
        yield
    finally:
        tlsctx.extract_from_ssl()


@pytest.fixture(params=["right-ca", "wrong-ca"])
def server(request, certs):
    """An HTTPS server (a stdlib server context, so that only the client is
    tlsctx) whose certificate the client's CA did or did not issue."""
    certfile = certs.server if request.param == "right-ca" else certs.untrusted
    with HTTPSServer(server_context(ssl, certs, certfile=certfile), BODY) as https:
        https.trusted = request.param == "right-ca"
        yield https


def verification_error(exc, seen=None):
    """tlsctx's SSLCertVerificationError somewhere in the chain of `exc`
    (causes, contexts, urllib3's .reason, aiohttp's .certificate_error,
    exception arguments)."""
    seen = seen if seen is not None else set()
    if exc is None or id(exc) in seen:
        return None
    seen.add(id(exc))
    if isinstance(exc, tlsctx.SSLCertVerificationError):
        return exc
    for inner in (exc.__cause__, exc.__context__, getattr(exc, "reason", None),
                  getattr(exc, "certificate_error", None),
                  *[a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)],
                  *getattr(exc, "exceptions", ())):
        if isinstance(inner, BaseException):
            found = verification_error(inner, seen)
            if found is not None:
                return found
    return None


def assert_tlsctx_verification_error(exc):
    found = verification_error(exc)
    assert found is not None, "no tlsctx certificate verification error in %r" % (exc,)
    assert found.verify_message == "unable to get local issuer certificate"


def check(server, fetch):
    """fetch() returns (body, the TLS object the library used)."""
    if server.trusted:
        body, tls = fetch()
        assert body == BODY
        assert type(tls).__module__ == "tlsctx", type(tls)
    else:
        with pytest.raises(Exception) as info:
            fetch()
        assert_tlsctx_verification_error(info.value)


def test_urllib3(injected, server, certs):
    import urllib3
    with urllib3.PoolManager(ca_certs=certs.cafile, retries=False) as pool:
        def fetch():
            response = pool.request("GET", server.url, preload_content=False)
            sock = response.connection.sock
            body = response.read()
            response.release_conn()
            return body, sock
        check(server, fetch)


def test_requests(injected, server, certs):
    import requests
    with requests.Session() as session:
        def fetch():
            response = session.get(server.url, verify=certs.cafile, stream=True, timeout=30)
            sock = response.raw.connection.sock
            return response.content, sock
        check(server, fetch)


def test_httpx_sync(injected, server, certs):
    httpx = pytest.importorskip("httpx", reason="httpx is a test dependency (pip install httpx)")
    context = ssl.create_default_context(cafile=certs.cafile)
    with httpx.Client(verify=context) as client:
        def fetch():
            response = client.get(server.url)
            return response.content, response.extensions["network_stream"].get_extra_info("ssl_object")
        check(server, fetch)


def test_httpx_async(injected, server, certs):
    httpx = pytest.importorskip("httpx", reason="httpx is a test dependency (pip install httpx)")

    async def fetch_async():
        context = ssl.create_default_context(cafile=certs.cafile)
        async with httpx.AsyncClient(verify=context) as client:
            response = await client.get(server.url)
            return response.content, response.extensions["network_stream"].get_extra_info("ssl_object")

    check(server, lambda: asyncio.run(fetch_async()))


def _aiohttp():
    if "aiohttp" in sys.modules and sys.modules["aiohttp"].connector.SSLContext is not tlsctx.SSLContext:
        pytest.skip("aiohttp was imported before inject_into_ssl() in this process; "
                    "it keeps the stdlib's SSLContext (see docs/inject.md)")
    return pytest.importorskip("aiohttp", reason="aiohttp is a test dependency (pip install aiohttp)")


def test_aiohttp_client(injected, server, certs):
    aiohttp = _aiohttp()

    async def fetch_async():
        context = ssl.create_default_context(cafile=certs.cafile)
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url, ssl=context) as response:
                tls = response.connection.transport.get_extra_info("ssl_object")
                return await response.read(), tls

    check(server, lambda: asyncio.run(fetch_async()))


@pytest.mark.parametrize("trusted", [True, False], ids=["right-ca", "wrong-ca"])
def test_aiohttp_server(injected, certs, trusted):
    aiohttp = _aiohttp()
    from aiohttp import web

    async def main():
        seen = []

        async def handle(request):
            seen.append(type(request.transport.get_extra_info("ssl_object")).__module__)
            return web.Response(body=BODY)

        app = web.Application()
        app.router.add_get("/", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(certs.server if trusted else certs.untrusted)
        site = web.TCPSite(runner, HOST, 0, ssl_context=server_ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            # the client: the stdlib's context, made from the module before injection
            client_ctx = tlsctx._inject._stdlib_ssl.__dict__["SSLContext"](ssl.PROTOCOL_TLS_CLIENT)
            client_ctx.load_verify_locations(certs.cafile)
            reader, writer = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                                           server_hostname="localhost")
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = await reader.read()
            writer.close()
            return data, seen, type(server_ctx).__module__
        finally:
            await runner.cleanup()

    if trusted:
        data, seen, server_kind = asyncio.run(main())
        assert data.endswith(b"\r\n\r\n" + BODY)
        assert seen == ["tlsctx"] and server_kind == "tlsctx"
    else:
        with pytest.raises(ssl.SSLCertVerificationError):
            asyncio.run(main())


def test_asyncio_open_connection_and_start_tls(injected, server, certs):
    from peers import asyncio_tls_exchange

    def fetch(use_start_tls):
        context = ssl.create_default_context(cafile=certs.cafile)
        data, tls = asyncio.run(asyncio_tls_exchange(
            server.port, context, b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", use_start_tls))
        return data.split(b"\r\n\r\n", 1)[1], tls

    for use_start_tls in (False, True):
        check(server, lambda: fetch(use_start_tls))


# ---- pip install from a local HTTPS index -------------------------------------

def build_wheel(directory):
    """A tiny pure-Python wheel, written by hand: tlsctx_tinypkg 0.1."""
    name = "tlsctx_tinypkg-0.1-py3-none-any.whl"
    path = os.path.join(directory, name)
    files = {
        "tlsctx_tinypkg/__init__.py": "VALUE = 42\n",
        "tlsctx_tinypkg-0.1.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: tlsctx_tinypkg\nVersion: 0.1\n",
        "tlsctx_tinypkg-0.1.dist-info/WHEEL":
            "Wheel-Version: 1.0\nGenerator: tlsctx-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join("%s,,\n" % f for f in files) + "tlsctx_tinypkg-0.1.dist-info/RECORD,,\n"
    files["tlsctx_tinypkg-0.1.dist-info/RECORD"] = record
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return name


class IndexServer:
    """A PEP 503 simple index over HTTPS, served from `root` by a tlsctx context."""

    def __init__(self, root, context):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=root, **k)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


PIP_DRIVER = r"""
import sys, tlsctx
tlsctx.inject_into_ssl()
# count the connections tlsctx contexts make (sockets or memory-BIO objects)
made = []
for name in ("wrap_socket", "wrap_bio"):
    def counting(self, *args, _original=getattr(tlsctx.SSLContext, name), **kwargs):
        made.append(type(self))
        return _original(self, *args, **kwargs)
    setattr(tlsctx.SSLContext, name, counting)
from pip._internal.cli.main import main
status = main(sys.argv[1:])
print("TLSCTX-CONNECTIONS", len(made))
sys.exit(status)
"""


@pytest.mark.parametrize("trusted", [True, False], ids=["right-ca", "wrong-ca"])
def test_pip_install(tmp_path, certs, trusted):
    pytest.importorskip("pip", reason="pip is not installed in this environment")
    root = tmp_path / "index"
    (root / "simple" / "tlsctx-tinypkg").mkdir(parents=True)
    wheel = build_wheel(str(root))
    (root / "simple" / "tlsctx-tinypkg" / "index.html").write_text(
        '<html><body><a href="../../%s">%s</a></body></html>\n' % (wheel, wheel))
    (root / "simple" / "index.html").write_text(
        '<html><body><a href="tlsctx-tinypkg/">tlsctx-tinypkg</a></body></html>\n')
    context = server_context(tlsctx, certs, certfile=certs.server if trusted else certs.untrusted)
    index = IndexServer(str(root), context)
    target = tmp_path / "target"
    # pip before 24.2 trusts --cert; from 24.2 its vendored truststore
    # ignores --cert and trusts OpenSSL's default locations: SSL_CERT_FILE
    # points them at the CA
    # (requests takes REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE over pip's --cert)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "SSL_CERT_", "REQUESTS_CA_", "CURL_CA_"))}
    env["SSL_CERT_FILE"] = certs.cafile
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PIP_DRIVER, "install", "--isolated", "--no-cache-dir",
             "--disable-pip-version-check", "--no-deps", "--retries", "0", "--timeout", "30",
             "--index-url", "https://localhost:%d/simple" % index.port, "--cert", certs.cafile,
             "--target", str(target), "tlsctx_tinypkg"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    finally:
        index.stop()
    count = int(proc.stdout.rsplit("TLSCTX-CONNECTIONS", 1)[1].split()[0])
    assert count > 0, proc.stdout
    if trusted:
        assert proc.returncode == 0, proc.stdout
        assert (target / "tlsctx_tinypkg" / "__init__.py").read_text() == "VALUE = 42\n"
    else:
        assert proc.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in proc.stdout, proc.stdout
        assert not target.exists() or not (target / "tlsctx_tinypkg").exists()
