"""Connections through tlsctx next to the stdlib, in one run: TLS 1.3
handshakes per second on loopback (without and with resumption), bulk
throughput with 64 KiB writes, and the "context per request" pattern
(create_default_context + handshake + one small HTTPS request).

    python benchmarks/bench_connections.py [--seconds N]

Prints one line per measurement with the tlsctx/stdlib ratio: the best of
--rounds interleaved rounds per library.  Servers are stdlib threads on
loopback, the same for both clients."""
import argparse
import http.client
import os
import socket
import ssl
import sys
import tempfile
import threading
import time

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [_ROOT, os.path.join(_ROOT, "tests")]  # the in-place build, and the test peers
import tlsctx  # noqa: E402
from peers import HTTPSServer, TLSServer, Certs, server_context, client_context  # noqa: E402

MODULES = (("stdlib", ssl), ("tlsctx", tlsctx))


def connect(address):
    raw = socket.create_connection(address)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return raw


def rate(func, seconds):
    """Calls per second of func over about `seconds`."""
    n, start = 0, time.perf_counter()
    while True:
        func()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def handshakes(mod, certs, seconds, resume):
    def handler(conn):
        conn.sendall(b"x")
        conn.recv(1)

    sctx = server_context(ssl, certs)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    cctx = client_context(mod, certs)
    state = {"session": None}
    with TLSServer(sctx, handler) as srv:
        def once():
            with connect(srv.address) as raw:
                with cctx.wrap_socket(raw, server_hostname="localhost",
                                      session=state["session"] if resume else None) as conn:
                    conn.recv(1)
                    if resume and state["session"] is None:
                        state["session"] = conn.session
                    conn.sendall(b"y")
        return rate(once, seconds)


def bulk(mod, certs, seconds):
    chunk = os.urandom(65536)

    def sink(conn):
        while conn.recv(262144):
            pass

    with TLSServer(server_context(ssl, certs), sink) as srv:
        with connect(srv.address) as raw:
            with client_context(mod, certs).wrap_socket(raw, server_hostname="localhost") as conn:
                writes = rate(lambda: conn.sendall(chunk), seconds)
    return writes * len(chunk) / 1e6


def context_per_request(mod, certs, seconds):
    with HTTPSServer(server_context(ssl, certs), b"hello") as srv:
        def once():
            ctx = mod.create_default_context()
            ctx.load_verify_locations(certs.cafile)
            conn = http.client.HTTPSConnection("localhost", srv.port, context=ctx)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"hello"
            conn.close()
        return rate(once, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per library; the best round counts")
    args = parser.parse_args()
    certs = Certs(tempfile.mkdtemp(prefix="tlsctx-bench-"))
    print("python %s, %s" % (sys.version.split()[0], ssl.OPENSSL_VERSION))
    cases = [
        ("TLS 1.3 handshakes/s", lambda m: handshakes(m, certs, args.seconds, False)),
        ("TLS 1.3 resumed handshakes/s", lambda m: handshakes(m, certs, args.seconds, True)),
        ("bulk MB/s (64 KiB writes)", lambda m: bulk(m, certs, args.seconds)),
        ("context per request, req/s", lambda m: context_per_request(m, certs, args.seconds)),
    ]
    for name, func in cases:
        # alternate the libraries so that load on the machine hits both alike
        best = {label: 0.0 for label, _ in MODULES}
        for _ in range(args.rounds):
            for label, mod in MODULES:
                best[label] = max(best[label], func(mod))
        print("%-32s stdlib %10.1f  tlsctx %10.1f  ratio %.2fx"
              % (name, best["stdlib"], best["tlsctx"], best["tlsctx"] / best["stdlib"]))


if __name__ == "__main__":
    main()
