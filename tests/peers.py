"""Real TLS peers on loopback for the connection tests: certificates made
with trustme at test time, threaded servers over a chosen context, HTTPS
servers, and `openssl s_server` / `s_client` processes.  Every peer is
started and stopped by the test that uses it."""
import datetime
import http.server
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading

import trustme

import tlsctx

OPENSSL = shutil.which("openssl")
HOST = "127.0.0.1"


class Certs:
    """Everything the tests need, written as PEM files under `directory`."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.ca = trustme.CA()
        self.other_ca = trustme.CA()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.server = self._write("server.pem", self.ca.issue_cert("localhost", HOST))
        client = self.ca.issue_cert("client@example.org")
        self.client = self._write("client.pem", client)
        self.client_der = ssl.PEM_cert_to_DER_cert(client.cert_chain_pems[0].bytes().decode())
        self.expired = self._write("expired.pem", self.ca.issue_cert(
            "localhost", HOST, not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1)))
        self.untrusted = self._write("untrusted.pem", self.other_ca.issue_cert("localhost", HOST))
        self.wrong_name = self._write("wrongname.pem", self.ca.issue_cert("elsewhere.example"))
        self.cafile = os.path.join(self.dir, "ca.pem")
        self.ca.cert_pem.write_to_path(self.cafile)
        # split files for `openssl s_server`
        self.server_cert = os.path.join(self.dir, "server-cert.pem")
        self.server_key = os.path.join(self.dir, "server-key.pem")
        leaf = self.ca.issue_cert("localhost", HOST)
        with open(self.server_cert, "wb") as f:
            for blob in leaf.cert_chain_pems:
                f.write(blob.bytes())
        leaf.private_key_pem.write_to_path(self.server_key)

    def _write(self, name, leaf):
        path = os.path.join(self.dir, name)
        leaf.private_key_and_cert_chain_pem.write_to_path(path)
        return path


def server_context(module, certs, certfile=None, client_auth=False):
    ctx = module.SSLContext(module.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile or certs.server)
    if client_auth:
        ctx.verify_mode = module.CERT_REQUIRED
        ctx.load_verify_locations(certs.cafile)
    return ctx


def client_context(module, certs, certfile=None):
    ctx = module.create_default_context(cafile=certs.cafile)
    if certfile:
        ctx.load_cert_chain(certfile)
    return ctx


def echo(conn):
    """Handler: echo every chunk back until the peer closes, then unwrap."""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


class TLSServer:
    """Accepts connections on loopback, wraps each with `context` and runs
    `handler(sslsock)` in a thread; exceptions are kept in `errors`."""

    def __init__(self, context, handler=echo, wrap=True):
        self.context = context
        self.handler = handler
        self.wrap = wrap
        self.errors = []
        self.results = []
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.address = (HOST, self.port)
        self._threads = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, raw):
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls
        try:
            if self.wrap:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    self.results.append(self.handler(conn))
            else:
                with raw:
                    self.results.append(self.handler(raw))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            self.errors.append(exc)

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self._accepting.join(10)
        for t in self._threads:
            t.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class HTTPSServer:
    """A threaded HTTPS server whose every GET returns `body`."""

    def __init__(self, context, body):
        payload = body

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://localhost:%d/" % self.port
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class OpenSSLServer:
    """`openssl s_server` on loopback (-rev: replies with each line reversed)."""

    def __init__(self, certs, *extra):
        self.proc = subprocess.Popen(
            [OPENSSL, "s_server", "-accept", "%s:0" % HOST, "-cert", certs.server_cert,
             "-key", certs.server_key, "-rev", "-naccept", "1", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in self.proc.stdout:
            m = re.match(rb"ACCEPT .*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise RuntimeError("openssl s_server did not start")
        self.address = (HOST, self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def openssl_client(port, certs, *extra, data=b"hello\n"):
    """Run `openssl s_client` against loopback `port`; its output."""
    proc = subprocess.run(
        [OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, port), "-CAfile", certs.cafile,
         "-verify_return_error", "-servername", "localhost", "-quiet", *extra],
        input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return proc.returncode, proc.stdout


MODULES = {"stdlib": ssl, "tlsctx": tlsctx}


async def asyncio_tls_exchange(port, context, request, use_start_tls, until_closed=True):
    """Connect to HOST:port with asyncio (TLS from the start with
    open_connection(ssl=...), or TCP then loop.start_tls()), send
    `request`, and return (everything received until the peer closes, the
    transport's ssl_object).  Uses the loop API, which 3.10 has too."""
    import asyncio
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    chunks = []

    class Collect(asyncio.Protocol):
        def data_received(self, data):
            chunks.append(data)
            if not until_closed and len(b"".join(chunks)) >= len(request):
                self.transport.close()

        def connection_made(self, transport):
            self.transport = transport

        def connection_lost(self, exc):
            if not closed.done():
                closed.set_result(None)

    if not use_start_tls:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=context,
                                                       server_hostname="localhost")
        tls = writer.get_extra_info("ssl_object")
        writer.write(request)
        data = await (reader.read() if until_closed else reader.readexactly(len(request)))
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return data, tls
    plain, protocol = await loop.create_connection(Collect, HOST, port)
    try:
        transport = await loop.start_tls(plain, protocol, context, server_hostname="localhost")
    except BaseException:
        plain.close()   # else the server waits for the rest of the handshake
        raise
    protocol.transport = transport
    tls = transport.get_extra_info("ssl_object")
    try:
        transport.write(request)
        await asyncio.wait_for(closed, 60)
    finally:
        transport.close()
    return b"".join(chunks), tls
