"""asyncio over tlsctx next to the stdlib, in one run: TLS handshakes per
second and bulk MB/s through asyncio's own SSL transport (which passes the
stdlib's ssl.MemoryBIO objects to the context's wrap_bio, so tlsctx drives
them as Python-level BIOs), and how much another thread gets done while
handshakes run through Python-level BIOs (the GIL must be released around
OpenSSL, and taken only inside the BIO callbacks).

    python benchmarks/bench_asyncio.py [--seconds N] [--rounds N]

Prints one line per measurement with the tlsctx/stdlib ratio (higher is
better for tlsctx on every line): the best of --rounds interleaved rounds
per library.  Client and server contexts are both the measured library's;
the server and the clients share one event loop on loopback."""
import argparse
import asyncio
import os
import ssl
import sys
import tempfile
import threading
import time

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [_ROOT, os.path.join(_ROOT, "tests")]  # the in-place build, and the test peers
import tlsctx  # noqa: E402
from peers import Certs  # noqa: E402

MODULES = (("stdlib", ssl), ("tlsctx", tlsctx))
HOST = "127.0.0.1"


def contexts(mod, certs):
    sctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(certs.server)
    cctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(certs.cafile)
    return sctx, cctx


async def _handshakes(mod, certs, seconds, concurrency):
    sctx, cctx = contexts(mod, certs)

    async def serve(reader, writer):
        writer.write(b"x")
        await writer.drain()
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(serve, HOST, 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    done = 0
    deadline = time.perf_counter() + seconds

    async def client():
        nonlocal done
        while time.perf_counter() < deadline:
            reader, writer = await asyncio.open_connection(HOST, port, ssl=cctx,
                                                           server_hostname="localhost")
            await reader.readexactly(1)
            writer.write(b"y")
            writer.close()
            try:
                await writer.wait_closed()
            except (ssl.SSLError, ConnectionError):
                pass
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    server.close()
    await server.wait_closed()
    return done / elapsed


async def _bulk(mod, certs, seconds):
    sctx, cctx = contexts(mod, certs)
    chunk = os.urandom(256 * 1024)
    received = 0

    async def sink(reader, writer):
        nonlocal received
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            received += len(data)
        writer.close()

    server = await asyncio.start_server(sink, HOST, 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection(HOST, port, ssl=cctx, server_hostname="localhost")
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        writer.write(chunk)
        await writer.drain()
    elapsed = time.perf_counter() - start
    writer.close()
    try:
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass
    server.close()
    await server.wait_closed()
    return received / elapsed / 1e6


def asyncio_handshakes(mod, certs, seconds):
    return asyncio.run(_handshakes(mod, certs, seconds, concurrency=8))


def asyncio_bulk(mod, certs, seconds):
    return asyncio.run(_bulk(mod, certs, seconds))


def bystander_progress(mod, certs, seconds):
    """Loop iterations per second of another thread while this one runs
    handshakes over the stdlib's ssl.MemoryBIO (Python-level BIOs for tlsctx),
    as asyncio does."""
    sctx, cctx = contexts(mod, certs)
    stop = threading.Event()
    count = [0]

    def spin():
        n = 0
        while not stop.is_set():
            n += 1
        count[0] = n

    def handshake():
        bios = [ssl.MemoryBIO() for _ in range(4)]
        client = cctx.wrap_bio(bios[0], bios[1], server_hostname="localhost")
        server = sctx.wrap_bio(bios[2], bios[3], server_side=True)
        for _ in range(10):
            for conn in (client, server):
                try:
                    conn.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            bios[2].write(bios[1].read())
            bios[0].write(bios[3].read())
            if client.version() and server.version():
                return

    thread = threading.Thread(target=spin)
    start = time.perf_counter()
    thread.start()
    while time.perf_counter() - start < seconds:
        handshake()
    stop.set()
    thread.join()
    return count[0] / (time.perf_counter() - start) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per library; the best round counts")
    args = parser.parse_args()
    certs = Certs(tempfile.mkdtemp(prefix="tlsctx-bench-"))
    print("python %s, stdlib %s, tlsctx %s"
          % (sys.version.split()[0], ssl.OPENSSL_VERSION, tlsctx.OPENSSL_VERSION))
    cases = [
        ("asyncio TLS handshakes/s", asyncio_handshakes),
        ("asyncio bulk MB/s (256 KiB writes)", asyncio_bulk),
        ("other thread M iter/s, BIO handshakes", bystander_progress),
    ]
    for name, func in cases:
        # alternate the libraries so that load on the machine hits both alike
        best = {label: 0.0 for label, _ in MODULES}
        for _ in range(args.rounds):
            for label, mod in MODULES:
                best[label] = max(best[label], func(mod, certs, args.seconds))
        print("%-40s stdlib %10.2f  tlsctx %10.2f  ratio %.2fx"
              % (name, best["stdlib"], best["tlsctx"], best["tlsctx"] / best["stdlib"]))


if __name__ == "__main__":
    main()
