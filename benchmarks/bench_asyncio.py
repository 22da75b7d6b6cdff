"""asyncio over tlsctx next to the stdlib, in one run: TLS handshakes per
second and bulk MB/s through asyncio's own SSL transport (which passes the
stdlib's ssl.MemoryBIO objects to the context's wrap_bio, which tlsctx drives
through their Python methods), and how much another thread gets done while
handshakes run over those BIOs (the GIL must be released around OpenSSL, and
taken only inside the BIO methods).

    python benchmarks/bench_asyncio.py [--seconds N] [--rounds N]

The libraries take turns, round after round, so that load on the machine
hits both alike.  Each round measures wall-clock time and the process's CPU
time (time.process_time: client and server share one event loop in this
process, so it is all the work either library does).  On a shared machine
the CPU time is the steadier number: another process taking the cores
stretches the wall clock of whichever library happens to be running, while
the CPU time each handshake or megabyte costs moves much less.

One line per rate: per CPU second (handshakes, MB) and per wall second,
the median over the rounds for each library, then the median and the range
of the rounds' tlsctx/stdlib ratios (each round runs the two back to back;
higher is better for tlsctx everywhere).  The other thread's progress (its
share of the GIL while this one handshakes) is a wall-clock rate by nature."""
import argparse
import asyncio
import os
import ssl
import statistics
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


class Clock:
    """Wall-clock and process CPU time of a stretch of code."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


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

    with Clock() as clock:
        await asyncio.gather(*(client() for _ in range(concurrency)))
    server.close()
    await server.wait_closed()
    return done, clock


async def _bulk(mod, certs, seconds):
    sctx, cctx = contexts(mod, certs)
    chunk = os.urandom(256 * 1024)
    received = 0
    finished = asyncio.Event()

    async def sink(reader, writer):
        nonlocal received
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            received += len(data)
        writer.close()
        finished.set()

    server = await asyncio.start_server(sink, HOST, 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection(HOST, port, ssl=cctx, server_hostname="localhost")
    with Clock() as clock:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            writer.write(chunk)
            await writer.drain()
        writer.close()
        try:
            await writer.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass
        await finished.wait()   # every byte written has been read
    server.close()
    await server.wait_closed()
    return received / 1e6, clock


def asyncio_handshakes(mod, certs, seconds):
    return asyncio.run(_handshakes(mod, certs, seconds, concurrency=8))


def asyncio_bulk(mod, certs, seconds):
    return asyncio.run(_bulk(mod, certs, seconds))


def bystander_progress(mod, certs, seconds):
    """Loop iterations (millions) of another thread while this one runs
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
    with Clock() as clock:
        thread.start()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            handshake()
        stop.set()
        thread.join()
    return count[0] / 1e6, clock


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=7,
                        help="interleaved rounds per library; the median counts")
    args = parser.parse_args()
    certs = Certs(tempfile.mkdtemp(prefix="tlsctx-bench-"))
    print("python %s, stdlib %s, tlsctx %s, load average %s"
          % (sys.version.split()[0], ssl.OPENSSL_VERSION, tlsctx.OPENSSL_VERSION,
             " ".join("%.1f" % x for x in os.getloadavg())))
    print("median of %d interleaved rounds of %.1f s; ratio = tlsctx/stdlib, higher is better"
          % (args.rounds, args.seconds))
    cases = [
        ("asyncio TLS handshakes", asyncio_handshakes, True),
        ("asyncio bulk MB (256 KiB writes)", asyncio_bulk, True),
        ("other thread M iter, BIO handshakes", bystander_progress, False),
    ]
    for name, func, by_cpu in cases:
        # alternate the libraries so that load on the machine hits both alike
        per_cpu = {label: [] for label, _ in MODULES}
        per_wall = {label: [] for label, _ in MODULES}
        for i in range(args.rounds):
            order = MODULES if i % 2 == 0 else MODULES[::-1]
            for label, mod in order:
                units, clock = func(mod, certs, args.seconds)
                per_cpu[label].append(units / clock.cpu)
                per_wall[label].append(units / clock.wall)
        rows = [("per CPU second", per_cpu)] if by_cpu else []
        rows.append(("per second", per_wall))
        for what, rates in rows:
            # each round's tlsctx/stdlib ratio (the two ran back to back),
            # then their median and range
            ratios = sorted(t / s for t, s in zip(rates["tlsctx"], rates["stdlib"]))
            print("%-36s %-15s stdlib %8.2f  tlsctx %8.2f  ratio %.2fx (rounds %.2f-%.2f)"
                  % (name, what, median(rates["stdlib"]), median(rates["tlsctx"]),
                     median(ratios), ratios[0], ratios[-1]))

if __name__ == "__main__":
    main()
