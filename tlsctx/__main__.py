"""python -m tlsctx: the default client context of tlsctx beside the stdlib's.

Names the interpreter, both OpenSSLs (tlsctx's and the stdlib's), where
each finds the default CA certificates, and the interpreter's build
choices that differ from CPython's defaults (the default cipher suites,
the minimum TLS version), which tlsctx follows.  Then protocol, version
bounds, options, verification settings, trust store counts and cipher
count of create_default_context() from each library, every difference
marked, and how long each took to create.  Warns when tlsctx's bundled
OpenSSL (a binary wheel's) is older than the stdlib's.  --json prints the
same as one JSON object.
"""
import argparse
import json
import platform
import ssl
import sys
import time

import tlsctx


def flag_names(value, enum):
    """Names of the members whose bits are set in value, widest first
    (OP_ALL before its parts), then any bits no member names."""
    members = {}
    for name, member in enum.__members__.items():
        if member.value and member.value not in members:
            members[member.value] = name
    names, rest = [], value
    for bits in sorted(members, key=lambda v: (-bin(v).count("1"), v)):
        if rest & bits == bits:
            names.append(members[bits])
            rest &= ~bits
    return names + ([hex(rest)] if rest else [])


def describe(module):
    start = time.perf_counter()
    ctx = module.create_default_context()
    elapsed = time.perf_counter() - start
    try:
        ciphers = len(ctx.get_ciphers())
    except NotImplementedError:
        ciphers = None
    return {
        "library": module.OPENSSL_VERSION,
        "protocol": module._SSLMethod(ctx.protocol).name,
        "minimum_version": ctx.minimum_version.name,
        "maximum_version": ctx.maximum_version.name,
        "options": flag_names(int(ctx.options), module.Options),
        "verify_mode": ctx.verify_mode.name,
        "verify_flags": flag_names(int(ctx.verify_flags), module.VerifyFlags),
        "check_hostname": ctx.check_hostname,
        "ca_certs": ctx.cert_store_stats(),
        "ciphers": ciphers,
        "create_ms": round(elapsed * 1000, 3),
    }


# CPython's own default cipher string (configure --with-ssl-default-suites=python)
CPYTHON_CIPHERS = ("@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:"
                   "!aDSS:!SHA1:!AESCCM")
OPENSSL_DEFAULT_CIPHERS = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"


def build_choices():
    """The running interpreter's ssl build choices, and which differ from
    CPython's defaults (tlsctx follows the interpreter's)."""
    suites = ssl._DEFAULT_CIPHERS
    if suites == CPYTHON_CIPHERS:
        kind = "python"
    elif suites == OPENSSL_DEFAULT_CIPHERS:
        kind = "openssl"
    else:
        kind = "custom"
    fresh = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    minimum = fresh.minimum_version.name
    differ = []
    if kind != "python":
        differ.append("cipher defaults")
    if minimum != "TLSv1_2":
        differ.append("minimum version")
    return {
        "default_cipher_suites": kind,
        "default_ciphers": suites,
        "minimum_version": minimum,
        "differ_from_cpython": differ,
        "tlsctx_follows": (tlsctx._DEFAULT_CIPHERS == suites
                           and tlsctx.SSLContext(tlsctx.PROTOCOL_TLS_CLIENT).minimum_version.name
                           == minimum),
    }


def openssl_report():
    """Which OpenSSL each side uses, the default CA paths of each, and the
    warnings a user should see."""
    bundled = bool(tlsctx._tlsctx._OPENSSL_BUNDLED)
    warnings = []
    if bundled and tlsctx.OPENSSL_VERSION_INFO < ssl.OPENSSL_VERSION_INFO:
        warnings.append(
            "tlsctx's bundled %s is older than the system's %s (the stdlib's): a bundled "
            "OpenSSL gets fixes only through tlsctx releases. Upgrade tlsctx, or build it "
            "against the system's OpenSSL: pip install --no-binary tlsctx tlsctx"
            % (tlsctx.OPENSSL_VERSION, ssl.OPENSSL_VERSION))
    return {
        "tlsctx_openssl": tlsctx.OPENSSL_VERSION,
        "tlsctx_openssl_bundled": bundled,
        "stdlib_openssl": ssl.OPENSSL_VERSION,
        "verify_paths": {"tlsctx": tlsctx.get_default_verify_paths()._asdict(),
                         "stdlib": ssl.get_default_verify_paths()._asdict(),
                         "tlsctx_source": tlsctx._DEFAULT_VERIFY_PATHS_SOURCE},
        "warnings": warnings,
    }


def compare():
    # stdlib first, so that tlsctx's first call is as cold as the stdlib's
    std = describe(ssl)
    mine = describe(tlsctx)
    warm = min(timed(tlsctx) for _ in range(20))
    std_warm = min(timed(ssl) for _ in range(5))
    keys = [k for k in mine if k != "create_ms"]
    return {
        "python": sys.version.split()[0],
        "interpreter": "%s %s (%s)" % (platform.python_implementation(),
                                       sys.version.split()[0], sys.executable),
        "stdlib_api": _api(ssl._OPENSSL_API_VERSION),
        "tlsctx_api": _api(tlsctx._tlsctx._BUILD_OPENSSL_API_VERSION),
        "error_names": tlsctx._tlsctx._ERRTABLES_RELEASE,
        "build": build_choices(),
        "openssl": openssl_report(),
        "tlsctx": mine,
        "stdlib": std,
        "differences": [k for k in keys if k != "library" and mine[k] != std[k]],
        "warm_create_ms": {"tlsctx": round(warm * 1000, 4), "stdlib": round(std_warm * 1000, 4)},
    }


def _api(info):
    """'3.0.19' from a version_info tuple (the patch is its fourth field)."""
    return "%d.%d.%d" % (info[0], info[1], info[3])


def timed(module):
    start = time.perf_counter()
    module.create_default_context()
    return time.perf_counter() - start


def render(report):
    mine, std = report["tlsctx"], report["stdlib"]
    width = max(len(k) for k in mine) + 2
    build = report["build"]
    lines = ["tlsctx %s (%s)" % (tlsctx.__version__, tlsctx.__file__),
             "interpreter: %s" % report["interpreter"],
             "tlsctx OpenSSL: %s (built against %s headers; error names of OpenSSL %s)"
             % (tlsctx.OPENSSL_VERSION, report["tlsctx_api"], report["error_names"]),
             "stdlib OpenSSL: %s (built against %s headers)" % (ssl.OPENSSL_VERSION,
                                                                report["stdlib_api"]),
             "interpreter build: default cipher suites %s (%s), minimum version %s"
             % (build["default_cipher_suites"], build["default_ciphers"],
                build["minimum_version"]),
             "build options that differ from CPython's defaults: %s; tlsctx %s"
             % (", ".join(build["differ_from_cpython"]) or "none",
                "follows the interpreter's" if build["tlsctx_follows"] else "DOES NOT follow them")]
    info = report["openssl"]
    paths = info["verify_paths"]
    if info["tlsctx_openssl_bundled"]:
        lines.append("tlsctx's OpenSSL is bundled: linked into tlsctx, fixed only by tlsctx releases")
    lines += ["default CA paths of tlsctx (%s):" % paths["tlsctx_source"],
              "    cafile %s, capath %s" % (paths["tlsctx"]["cafile"], paths["tlsctx"]["capath"]),
              "    else %s=%s, %s=%s" % (paths["tlsctx"]["openssl_cafile_env"], paths["tlsctx"]["openssl_cafile"],
                                         paths["tlsctx"]["openssl_capath_env"], paths["tlsctx"]["openssl_capath"]),
              "default CA paths of the stdlib: %s"
              % ("the same" if paths["stdlib"] == paths["tlsctx"] else paths["stdlib"])]
    lines += ["WARNING: " + w for w in info["warnings"]]
    lines.append("%-*s %-50s %s" % (width, "create_default_context()", "tlsctx", "stdlib ssl"))
    for key in mine:
        a, b = mine[key], std[key]
        fa = ", ".join(a) if isinstance(a, list) else str(a)
        fb = ", ".join(b) if isinstance(b, list) else str(b)
        mark = "  <-- differs" if key in report["differences"] else ""
        if isinstance(a, list) or len(fa) > 50 or len(fb) > 50:
            lines.append("%-*s%s" % (width, key, mark))
            lines.append("    tlsctx: " + fa)
            lines.append("    stdlib: " + fb)
        else:
            lines.append("%-*s %-50s %s%s" % (width, key, fa, fb, mark))
    w = report["warm_create_ms"]
    lines.append("warm create_default_context(): tlsctx %.4f ms, stdlib %.4f ms (%.0fx faster)"
                 % (w["tlsctx"], w["stdlib"], w["stdlib"] / max(w["tlsctx"], 1e-9)))
    lines.append("differences: " + (", ".join(report["differences"]) or "none"))
    if sys.version_info < (3, 13) and "verify_flags" in report["differences"]:
        lines.append("(expected: tlsctx gives CPython 3.13+'s defaults, which add "
                     "VERIFY_X509_STRICT and VERIFY_X509_PARTIAL_CHAIN)")
    if "options" in report["differences"] and "OP_IGNORE_UNEXPECTED_EOF" in std["options"]:
        lines.append("(expected: this stdlib predates gh-95494 and sets OP_IGNORE_UNEXPECTED_EOF; "
                     "tlsctx does not, as every later release)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tlsctx", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = compare()
    print(json.dumps(report, indent=2) if args.json else render(report))
    for warning in report["openssl"]["warnings"]:
        print("python -m tlsctx: warning: " + warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
