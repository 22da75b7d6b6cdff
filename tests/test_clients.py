"""Real HTTP clients and asyncio over tlsctx contexts, against a local
HTTPS server served by a tlsctx server context and by a stdlib one.  Each
fetches a body and checks it byte for byte.  Needs urllib3 and requests."""
import asyncio
import http.client
import os
import ssl
import urllib.request

import pytest

import tlsctx
from peers import HOST, MODULES, Certs, HTTPSServer, client_context, server_context

urllib3 = pytest.importorskip("urllib3", reason="urllib3 is a test dependency (pip install urllib3)")
requests = pytest.importorskip("requests", reason="requests is a test dependency (pip install requests)")

BODY = os.urandom(200_000)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(params=sorted(MODULES))
def https(request, certs):
    """An HTTPS server using a tlsctx or a stdlib server context."""
    with HTTPSServer(server_context(MODULES[request.param], certs), BODY) as server:
        yield server


def test_urlopen(https, certs):
    ctx = client_context(tlsctx, certs)
    with urllib.request.urlopen(https.url, context=ctx, timeout=30) as response:
        assert response.read() == BODY


def test_http_client(https, certs):
    conn = http.client.HTTPSConnection("localhost", https.port, context=client_context(tlsctx, certs),
                                       timeout=30)
    try:
        for _ in range(2):   # keep-alive: the same TLS connection twice
            conn.request("GET", "/")
            assert conn.getresponse().read() == BODY
        assert type(conn.sock) is tlsctx.SSLSocket
    finally:
        conn.close()


def test_urllib3_pool_manager(https, certs):
    with urllib3.PoolManager(ssl_context=client_context(tlsctx, certs)) as pool:
        response = pool.request("GET", https.url, timeout=30)
        assert response.status == 200
        assert response.data == BODY


def test_requests_adapter(https, certs):
    ctx = client_context(tlsctx, certs)

    class ContextAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["ssl_context"] = ctx
            return super().init_poolmanager(*args, **kwargs)

    with requests.Session() as session:
        session.mount("https://", ContextAdapter())
        response = session.get(https.url, timeout=30)
    assert response.status_code == 200
    assert response.content == BODY


def test_stdlib_client_against_tlsctx_server(certs):
    with HTTPSServer(server_context(tlsctx, certs), BODY) as server:
        with urllib.request.urlopen(server.url, context=client_context(ssl, certs),
                                    timeout=30) as response:
            assert response.read() == BODY


async def _fetch(port, ctx):
    reader, writer = await asyncio.open_connection("localhost", port, ssl=ctx)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    ssl_object = writer.get_extra_info("ssl_object")
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body, ssl_object


def test_asyncio_open_connection(https, certs):
    head, body, ssl_object = asyncio.run(_fetch(https.port, client_context(tlsctx, certs)))
    assert head.startswith(b"HTTP/1.1 200")
    assert body == BODY
    assert type(ssl_object) is tlsctx.SSLObject


@pytest.mark.parametrize("client", sorted(MODULES))
def test_asyncio_start_server(certs, client):
    """asyncio serving TLS through a tlsctx server context (its own
    stdlib MemoryBIOs go to tlsctx's wrap_bio)."""
    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0, ssl=server_context(tlsctx, certs))
        port = server.sockets[0].getsockname()[1]
        async with server:
            result = await _fetch(port, client_context(MODULES[client], certs))
        return result

    head, body, _ = asyncio.run(main())
    assert head.startswith(b"HTTP/1.1 200")
    assert body == BODY
