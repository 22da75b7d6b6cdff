"""What inject_into_ssl() buys a real program: 200 httpx clients, 200
requests sessions, 200 aiohttp sessions, each making its first request to a
local HTTPS server, timed and measured (resident memory with all 200 alive),
with the stdlib's ssl and with tlsctx injected, side by side in one run.

    python benchmarks/bench_inject.py [--clients 200] [--rounds 3]

Every measurement is a fresh interpreter.  The clients trust what they
trust by default, pointed at a bundle made of the system CA bundle plus the
test CA (SSL_CERT_FILE, REQUESTS_CA_BUNDLE): each library parses a bundle of
the system's size, as it would in production.  Medians of --rounds runs;
ratios are stdlib / tlsctx (bigger is better for tlsctx).
"""
import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import trustme

LIBRARIES = ("httpx", "requests", "aiohttp")

SERVER = r"""
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # no delayed-ACK stalls on loopback
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
httpd.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1])
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""

CLIENT = r"""
import gc, json, sys, time
library, mode, url, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
if mode == "tlsctx":
    import tlsctx
    tlsctx.inject_into_ssl()
import ssl
if library == "httpx":
    import httpx
elif library == "requests":
    import requests
else:
    import aiohttp, asyncio
gc.collect()
before = rss()
start = time.perf_counter()
keep = []
if library == "httpx":
    for _ in range(count):
        client = httpx.Client()
        assert client.get(url).content == b"ok"
        keep.append(client)
elif library == "requests":
    for _ in range(count):
        session = requests.Session()
        assert session.get(url).content == b"ok"
        keep.append(session)
else:
    async def main():
        for _ in range(count):
            session = aiohttp.ClientSession()
            async with session.get(url) as response:
                assert await response.read() == b"ok"
            keep.append(session)
        elapsed = time.perf_counter() - start
        gc.collect()
        after = rss()
        for session in keep:
            await session.close()
        return elapsed, after
    elapsed, after = asyncio.run(main())
if library != "aiohttp":
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss()
print(json.dumps({"seconds": elapsed, "rss": after - before, "context_type": ssl.SSLContext.__module__}))
"""


def measure(library, mode, url, count, env):
    out = subprocess.run([sys.executable, "-c", CLIENT, library, mode, url, str(count)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError("%s/%s failed:\n%s" % (library, mode, out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def system_bundle():
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise SystemExit("bench_inject: no system CA bundle found")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--libraries", nargs="*", default=list(LIBRARIES))
    args = parser.parse_args()

    import tlsctx
    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        server_pem = os.path.join(tmp, "server.pem")
        ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(server_pem)
        bundle = os.path.join(tmp, "bundle.pem")
        with open(system_bundle(), "rb") as system, open(bundle, "wb") as out:
            out.write(system.read())
            out.write(b"\n")
            out.write(ca.cert_pem.bytes())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSL_CERT_", "REQUESTS_", "CURL_CA_"))}
        env.update(SSL_CERT_FILE=bundle, REQUESTS_CA_BUNDLE=bundle, NO_PROXY="*")
        server = subprocess.Popen([sys.executable, "-c", SERVER, server_pem],
                                  stdout=subprocess.PIPE, text=True)
        try:
            url = "https://localhost:%s/" % server.stdout.readline().strip()
            print("bench_inject: %d clients each, median of %d rounds, Python %s, "
                  "stdlib %s, tlsctx %s" % (args.clients, args.rounds, sys.version.split()[0],
                                            ssl.OPENSSL_VERSION, tlsctx.OPENSSL_VERSION))
            print()
            print("| library | stdlib time | tlsctx time | time ratio | stdlib RSS | tlsctx RSS | RSS ratio |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for library in args.libraries:
                results = {"stdlib": [], "tlsctx": []}
                for _ in range(args.rounds):
                    for mode in ("stdlib", "tlsctx"):   # alternated: same machine load
                        results[mode].append(measure(library, mode, url, args.clients, env))
                for run in results["tlsctx"]:
                    assert run["context_type"] == "tlsctx", run
                t = {m: statistics.median(r["seconds"] for r in results[m]) for m in results}
                m = {m: statistics.median(r["rss"] for r in results[m]) for m in results}
                print("| %s | %.2f s | %.2f s | %.1fx | %.1f MiB | %.1f MiB | %.1fx |" % (
                    library, t["stdlib"], t["tlsctx"], t["stdlib"] / t["tlsctx"],
                    m["stdlib"] / 2**20, m["tlsctx"] / 2**20,
                    m["stdlib"] / max(m["tlsctx"], 1)), flush=True)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
