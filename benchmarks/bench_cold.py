"""Cold start (issue 16), stdlib ``ssl`` against ``tlsctx``, side by side.

    python benchmarks/bench_cold.py            # table
    python benchmarks/bench_cold.py --json     # the same numbers as JSON
    python benchmarks/bench_cold.py -n 21      # fresh processes per sample

Every number comes from fresh processes, one per sample, the two libraries
alternating; the table gives medians. tlsctx is imported from the
repository this script lives in when it was built in place, else from the
installed package. Both libraries should link the same OpenSSL (the header
says which each uses): ratios are per OpenSSL.

Before the runs, the tlsctx package measured is byte-compiled into its
``__pycache__`` by the interpreter that runs the children, as pip does when
it installs a package: the stdlib's modules come with their ``.pyc`` files,
and with PYTHONDONTWRITEBYTECODE set every child would otherwise compile
tlsctx's sources again. The children's environment is otherwise the same for
both libraries.

The children run this interpreter, except in a virtual environment when
tlsctx is built in place: then they run the interpreter the environment was
made from (``--here`` keeps this one). An editable install's import hook, a
``.pth`` file, imports some 35 modules (re, enum, collections, pathlib, ...)
at the start of every process of the environment, which no installed
package does; the children import tlsctx from the repository either way.

What is measured, in a fresh process:

* ``import``: ``import ssl`` against ``import tlsctx`` (tlsctx loads the
  stdlib's ssl.py only when its connection layer is first used).
* ``bare``: the first ``SSLContext(PROTOCOL_TLS_CLIENT)`` after the import
  (OpenSSL's own first-use set-up is in it, for both), with nothing
  imported in between (as for ``cold`` and ``rss``).
* ``cold``: the first ``create_default_context()`` after the import.
* ``handshake``: from after the import to the end of the first verified
  handshake: ``create_default_context()`` plus a test CA, against a server
  made before the clock starts (the stdlib's, over memory BIOs; so the
  stdlib's ssl is loaded before the clock for both, and tlsctx's first
  ``wrap_bio()`` loads only its own connection layer).
* ``rss``: what the trust material of the first ``create_default_context()``
  costs in memory: its resident-set growth, less that of a bare
  ``SSLContext`` made just before it, in a process that made one bare
  context first (OpenSSL's own first-use set-up, about 1 MiB for both
  libraries, is out of it).
* ``handshake (bundle)``: as ``handshake``, with a bundle of the system's
  roots plus the test CA as the only ``cafile`` of a bare client context.

Ratios are stdlib / tlsctx (bigger is better). The targets are issue 16's;
"floor" compares tlsctx's cold call with its own bare context (<= 1.5).
"""
import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

CHILD = r"""
import os, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
what, lib, cafile, server_pem = sys.argv[1:5]
t0 = time.perf_counter()
if lib == "ssl":
    import ssl as mod
else:
    import tlsctx as mod
t_import = time.perf_counter() - t0
out = {"import": t_import}
if what == "bare":
    t0 = time.perf_counter()
    mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    out["bare"] = time.perf_counter() - t0
elif what == "cold":
    t0 = time.perf_counter()
    ctx = mod.create_default_context()
    out["cold"] = time.perf_counter() - t0
elif what == "rss":
    mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    before = rss()
    bare = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    bare_cost = rss() - before
    before = rss()
    ctx = mod.create_default_context()
    out["rss"] = rss() - before - bare_cost
elif what in ("handshake", "handshake_bundle"):
    import ssl   # the server's library, loaded before the clock starts
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(server_pem)
    s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    t0 = time.perf_counter()
    if what == "handshake":
        ctx = mod.create_default_context()
        ctx.load_verify_locations(cafile)
    else:
        ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile.replace("ca.pem", "bundle.pem"))
    c_in, c_out = mod.MemoryBIO(), mod.MemoryBIO()
    client = ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    while not all(done):
        for i, (obj, m) in enumerate(((client, mod), (srv, ssl))):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except m.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    out[what] = time.perf_counter() - t0
print(repr(out))
"""


PYTHON = sys.executable   # what the children run (main() may choose the base interpreter)


def built_in_place():
    return any(name.startswith("_tlsctx") and name.endswith(".so")
               for name in os.listdir(os.path.join(REPO, "tlsctx")))


def environment():
    env = dict(os.environ)
    if built_in_place():
        env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def child_interpreter(here):
    """This interpreter, or the one its virtual environment was made from
    (when tlsctx is built in place and `here` is false)."""
    if here or sys.prefix == sys.base_prefix or not built_in_place():
        return sys.executable
    base = getattr(sys, "_base_executable", None)
    if not base or base == sys.executable:   # 3.10 on POSIX does not say
        base = os.path.join(sys.base_exec_prefix, "bin", "python%d.%d" % sys.version_info[:2])
    return base if os.path.exists(base) else sys.executable


def byte_compile(env):
    """Write the .pyc files of the tlsctx package the children import (the
    stdlib's have theirs); a package already compiled is left as it is."""
    code = "import os, tlsctx; print(os.path.dirname(tlsctx.__file__))"
    package = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                             env=env, check=True, cwd=HERE).stdout.strip()
    subprocess.run([PYTHON, "-m", "compileall", "-q", package],
                   env=env, check=True, cwd=HERE)


def make_pki(directory):
    import trustme
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cafile = os.path.join(directory, "ca.pem")
    server = os.path.join(directory, "server.pem")
    ca.cert_pem.write_to_path(cafile)
    leaf.private_key_and_cert_chain_pem.write_to_path(server)
    # the system's roots, then the test CA (a bundle where the right root is last)
    system = ssl.get_default_verify_paths().cafile
    with open(os.path.join(directory, "bundle.pem"), "wb") as out:
        if system and os.path.exists(system):
            with open(system, "rb") as f:
                out.write(f.read())
        out.write(ca.cert_pem.bytes())
    return cafile, server


def sample(what, lib, cafile, server, env):
    out = subprocess.run([PYTHON, "-c", CHILD, what, lib, cafile, server],
                         capture_output=True, text=True, env=env, check=True, cwd=HERE)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's repr


def measure(n):
    env = environment()
    byte_compile(env)
    with tempfile.TemporaryDirectory() as tmp:
        cafile, server = make_pki(tmp)
        results = {lib: {} for lib in ("ssl", "tlsctx")}
        for what in ("bare", "cold", "rss", "handshake", "handshake_bundle"):
            for _ in range(n):
                for lib in ("ssl", "tlsctx"):
                    for key, value in sample(what, lib, cafile, server, env).items():
                        results[lib].setdefault(key, []).append(value)
    return {lib: {k: statistics.median(v) for k, v in r.items()} for lib, r in results.items()}


def versions(env):
    code = "import ssl, tlsctx; print(ssl.OPENSSL_VERSION); print(tlsctx.OPENSSL_VERSION)"
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=HERE).stdout.splitlines()
    return out[0], out[1]


TARGETS = {   # minimum stdlib/tlsctx ratio; OpenSSL 3.0 unless said
    "import": 1.0,
    "bare": 1.0,
    "cold": 8.0,       # 3.0; 3.0x on OpenSSL 3.6
    "handshake": 3.0,
    "handshake_bundle": 3.0,
    "rss": 4.0,
}


def table(medians, header):
    lines = [header, "",
             "| case | stdlib | tlsctx | stdlib/tlsctx | target |",
             "|---|---:|---:|---:|---:|"]
    for key in ("import", "bare", "cold", "handshake", "handshake_bundle", "rss"):
        a, b = medians["ssl"][key], medians["tlsctx"][key]
        if key == "rss":
            fa, fb = "%.0f KiB" % (a / 1024), "%.0f KiB" % (b / 1024)
        else:
            fa, fb = "%.2f ms" % (a * 1e3), "%.2f ms" % (b * 1e3)
        ratio = a / b if b else float("inf")
        lines.append("| %s | %s | %s | %.2fx | >= %.1fx |" % (key, fa, fb, ratio, TARGETS[key]))
    floor = medians["tlsctx"]["cold"] / medians["tlsctx"]["bare"]
    lines.append("")
    lines.append("tlsctx cold / tlsctx bare: %.2fx (target <= 1.5x)" % floor)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=11, help="fresh processes per sample")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--here", action="store_true",
                        help="children run this interpreter even in a virtual environment")
    args = parser.parse_args()
    global PYTHON
    PYTHON = child_interpreter(args.here)
    env = environment()
    std_version, tls_version = versions(env)
    medians = measure(args.n)
    if args.json:
        print(json.dumps({"stdlib_openssl": std_version, "tlsctx_openssl": tls_version,
                          "python": sys.version.split()[0], "children": PYTHON,
                          "medians": medians}, indent=2))
        return
    header = ("Python %s (children: %s); stdlib ssl: %s; tlsctx: %s; medians of %d fresh "
              "processes" % (sys.version.split()[0], PYTHON, std_version, tls_version, args.n))
    print(table(medians, header))


if __name__ == "__main__":
    main()
