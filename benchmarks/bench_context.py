"""Context creation, stdlib ``ssl`` against ``tlsctx``, side by side.

Run from anywhere::

    python benchmarks/bench_context.py           # table
    python benchmarks/bench_context.py --json    # the same numbers as JSON

tlsctx is imported from the repository this script lives in when it was
built in place (``python setup.py build_ext --inplace``), else from the
installed package. Both libraries must link the same OpenSSL for the
comparison to mean anything; the header says which each one uses.

What is measured (ratios are stdlib / tlsctx, so bigger is better):

* ``SSLContext(PROTOCOL_TLS_CLIENT)``: a bare context.
* ``create_default_context()`` cold: the first call in a fresh process,
  after the import (one subprocess per sample, both libraries alternating).
* ``create_default_context()`` warm: later calls in a process.
* ``load_verify_locations(system bundle)``: the call alone, on a fresh
  context created beforehand.
* warm ``create_default_context()`` against a bare ``SSLContext()``, both
  tlsctx's (issue 13): the floor of a default context is ``SSL_CTX_new``
  itself, so the warm call must stay within 1.15x of a bare context's time.
* memory per live default context: growth of the resident set while a
  fresh process holds N contexts, divided by N (one process per library).

In-process timings are CPU time (user + system) of the benchmark's
process, the best of several interleaved rounds (the least disturbed by
other work on the machine); the cold call is the median CPU time over
fresh processes, memory the median over fresh processes.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# The targets: minimum stdlib/tlsctx ratios.  "No slower" (1.0) compares two
# runs of the same OpenSSL work (SSL_CTX_new and the cipher list for a bare
# context; parsing the bundle for a cold call), so it is met within NOISE of
# 1.0: back-to-back runs of one library alone differ by that much on a quiet
# machine.  Issue 4 set the 100x/30x targets on OpenSSL 3.0, where the
# stdlib's bundle parsing is slowest; OpenSSL 3.5+ decode a bundle several
# times faster, so there those rows are reported without a target.  Issue 13
# adds, on every OpenSSL: bare >= stdlib, and a warm default context within
# 1.15x of a bare tlsctx context ("warm_vs_bare", bare/warm >= 1/1.15).
NOISE = 0.03
TARGETS = {
    "bare": 1.0,
    "cold": 1.0,
    "warm": 100.0,
    "load_bundle": 100.0,
    "memory": 30.0,
    "warm_vs_bare": 1 / 1.15,
}
OPENSSL_30_ONLY = ("warm", "load_bundle", "memory")

LABELS = {
    "bare": "SSLContext(PROTOCOL_TLS_CLIENT)",
    "cold": "create_default_context(), cold",
    "warm": "create_default_context(), warm",
    "load_bundle": "load_verify_locations(system bundle)",
    "memory": "memory per live default context",
    "warm_vs_bare": "tlsctx: bare SSLContext() vs warm create_default_context()",
}


def tlsctx_path():
    """sys.path entry that makes `import tlsctx` pick the in-place build,
    or None to use the installed package."""
    package = os.path.join(REPO, "tlsctx")
    if os.path.isdir(package) and any(name.startswith("_tlsctx.") and name.endswith(".so")
                                      for name in os.listdir(package)):
        return REPO
    return None


def import_tlsctx():
    path = tlsctx_path()
    if path is not None and path not in sys.path:
        sys.path.insert(0, path)
    import tlsctx
    return tlsctx


def module_for(name):
    if name == "ssl":
        import ssl
        return ssl
    return import_tlsctx()


def system_bundle(ssl):
    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, paths.openssl_cafile):
        if path and os.path.isfile(path):
            return path
    raise SystemExit("no system CA bundle found (%r); cannot run the benchmark" % (paths,))


# ---- timing in this process ---------------------------------------------------

def per_call(func, number):
    # CPU time of this process (user + system): on a machine shared with
    # other work, wall-clock time mostly measures the scheduler
    start = time.process_time()
    for _ in range(number):
        func()
    return (time.process_time() - start) / number


def best_interleaved(funcs, numbers, rounds):
    """Best per-call time of each function, alternating them round by round so
    that a disturbance hits both sides alike."""
    best = [float("inf")] * len(funcs)
    for _ in range(rounds):
        for i, (func, number) in enumerate(zip(funcs, numbers)):
            best[i] = min(best[i], per_call(func, number))
    return best


def time_bare(ssl, tlsctx, rounds):
    return best_interleaved(
        [lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
         lambda: tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT)],
        [500, 500], rounds)


def time_warm(ssl, tlsctx, rounds):
    ssl.create_default_context()
    tlsctx.create_default_context()
    return best_interleaved([ssl.create_default_context, tlsctx.create_default_context],
                            [10, 500], rounds)


def time_warm_vs_bare(tlsctx, rounds):
    """(bare, warm) per-call times of tlsctx alone, interleaved."""
    tlsctx.create_default_context()
    return best_interleaved([lambda: tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT),
                             tlsctx.create_default_context], [500, 500], rounds)


def time_load_bundle(ssl, tlsctx, bundle, rounds):
    def loads(module, count):
        contexts = [module.SSLContext(module.PROTOCOL_TLS_CLIENT) for _ in range(count)]
        start = time.perf_counter()
        for ctx in contexts:
            ctx.load_verify_locations(bundle)
        return (time.perf_counter() - start) / count

    loads(tlsctx, 1)  # warm: the bundle is parsed once per process
    best_std = best_tls = float("inf")
    for _ in range(rounds):
        best_std = min(best_std, loads(ssl, 10))
        best_tls = min(best_tls, loads(tlsctx, 500))
    return best_std, best_tls


# ---- measurements in fresh processes -------------------------------------------

CHILD = r"""
import gc, sys, time
sys.path[:0] = {paths!r}
name, what, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if name == "ssl":
    import ssl as module
else:
    import tlsctx as module
if what == "cold":
    start = time.process_time()
    module.create_default_context()
    print(time.process_time() - start)
else:
    import os
    page = os.sysconf("SC_PAGE_SIZE")
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page
    keep = [module.create_default_context() for _ in range(3)]  # one-time set-up
    gc.collect()
    before = rss()
    keep += [module.create_default_context() for _ in range(count)]
    gc.collect()
    print((rss() - before) / count)
"""


def child(name, what, count=0):
    path = tlsctx_path()
    code = CHILD.format(paths=[path] if path else [])
    out = subprocess.run([sys.executable, "-c", code, name, what, str(count)],
                         check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    return float(out.stdout.strip())


def cold_first_call(samples):
    std, tls = [], []
    for _ in range(samples):
        std.append(child("ssl", "cold"))
        tls.append(child("tlsctx", "cold"))
    return statistics.median(std), statistics.median(tls)


def memory_per_context(count, samples):
    std = [child("ssl", "memory", count) for _ in range(samples)]
    tls = [child("tlsctx", "memory", count) for _ in range(samples)]
    return statistics.median(std), statistics.median(tls)


# ---- report ------------------------------------------------------------------

def fmt_time(seconds):
    if seconds >= 1e-3:
        return "%.2f ms" % (seconds * 1e3)
    return "%.1f us" % (seconds * 1e6)


def fmt_bytes(size):
    if size >= 1024 * 1024:
        return "%.2f MiB" % (size / 1024 / 1024)
    return "%.1f KiB" % (size / 1024)


def measure(args):
    import ssl
    tlsctx = import_tlsctx()
    bundle = system_bundle(ssl)
    rounds = args.rounds
    results = {}
    results["bare"] = time_bare(ssl, tlsctx, rounds)
    results["cold"] = cold_first_call(args.cold_samples)
    results["warm"] = time_warm(ssl, tlsctx, rounds)
    results["load_bundle"] = time_load_bundle(ssl, tlsctx, bundle, rounds)
    results["memory"] = memory_per_context(args.contexts, args.memory_samples)
    # columns "stdlib"/"tlsctx" here hold tlsctx's bare and warm times
    results["warm_vs_bare"] = time_warm_vs_bare(tlsctx, rounds)
    openssl_30 = tlsctx.OPENSSL_VERSION_INFO[:2] == (3, 0)
    rows = []
    for key in ("bare", "cold", "warm", "load_bundle", "memory", "warm_vs_bare"):
        std, tls = results[key]
        ratio = std / tls if tls > 0 else float("inf")
        target = TARGETS[key] if openssl_30 or key not in OPENSSL_30_ONLY else None
        rows.append({
            "case": key,
            "label": LABELS[key],
            "stdlib": std,
            "tlsctx": tls,
            "unit": "bytes" if key == "memory" else "seconds",
            "ratio": ratio,
            "target": target,
            "met": target is None or ratio >= target * (1 - NOISE if target == 1.0 else 1),
        })
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": "%s %s, %d CPUs" % (platform.system(), platform.machine(), os.cpu_count() or 0),
        "stdlib_openssl": ssl.OPENSSL_VERSION,
        "tlsctx_openssl": tlsctx.OPENSSL_VERSION,
        "tlsctx_from": os.path.dirname(tlsctx.__file__),
        "system_bundle": bundle,
        "contexts_held": args.contexts,
        "rows": rows,
    }


def print_table(report):
    print("Python %s; stdlib ssl: %s; tlsctx: %s (%s)" % (
        report["python"], report["stdlib_openssl"], report["tlsctx_openssl"],
        report["tlsctx_from"]))
    print("%s; system bundle %s" % (report["machine"], report["system_bundle"]))
    print()
    header = ("case", "stdlib", "tlsctx", "stdlib/tlsctx", "target")
    lines = []
    for row in report["rows"]:
        fmt = fmt_bytes if row["unit"] == "bytes" else fmt_time
        if row["target"] is None:
            target = "(reported)"
        elif row["case"] == "warm_vs_bare":
            target = "warm <= 1.15x bare %s" % ("met" if row["met"] else "MISSED")
        else:
            target = "%s %s" % ("no slower" if row["target"] == 1.0 else ">= %gx" % row["target"],
                                "met" if row["met"] else "MISSED")
        lines.append((row["label"], fmt(row["stdlib"]), fmt(row["tlsctx"]),
                      ("%.2fx" if row["ratio"] < 10 else "%.0fx") % row["ratio"], target))
    widths = [max(len(line[i]) for line in lines + [header]) for i in range(len(header))]

    def show(cells):
        print("| " + " | ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                for i, (cell, w) in enumerate(zip(cells, widths))) + " |")

    show(header)
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for line in lines:
        show(line)
    print()
    print("Ratios are stdlib / tlsctx (last row: tlsctx bare / tlsctx warm). \"No slower\" is "
          "met within %d%% of 1.0 (run-to-run noise of identical OpenSSL work)."
          % round(NOISE * 100))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--cold-samples", type=int, default=11,
                        help="fresh processes per library for the cold call")
    parser.add_argument("--memory-samples", type=int, default=3,
                        help="fresh processes per library for memory")
    parser.add_argument("--contexts", type=int, default=200,
                        help="live contexts held for the memory measurement")
    args = parser.parse_args()
    report = measure(args)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_table(report)
    return 0 if all(row["met"] for row in report["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
