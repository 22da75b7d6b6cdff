"""Build script for the tlsctx C extension.

Environment switches:
  TLSCTX_OPENSSL_DIR  build against the OpenSSL under this prefix (include/ and lib/);
                      with TLSCTX_OPENSSL_STATIC=1 it is linked statically, symbols hidden.
  TLSCTX_SANITIZE=1   ASan + UBSan instrumented build (run with LD_PRELOAD of libasan).
  TLSCTX_DEBUG=1      -O0 -g, assertions on.
  TLSCTX_WERROR=1     warnings are errors.
"""
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCES = [
    "src/_tlsctx.c",      # module, state, exec steps
    "src/errors.c",       # exception hierarchy and the OpenSSL error funnel
    "src/threading.c",    # how OpenSSL calls back into Python (the GIL, re-entry)
    "src/constants.c",    # {name, value} tables
    "src/context.c",      # the _SSLContext type: core attributes
    "src/context_endpoint.c",  # certificates, ciphers, ALPN, callbacks, keylog
    "src/context_modern.c",  # CPython 3.15: groups, TLS 1.3 suites, signature algorithms
    "src/certdecode.c",   # X509 -> dict, ASN1 objects
    "src/certificate.c",  # Certificate objects (peer chains), RAND_*
    "src/trustcache.c",   # shared, parsed trust sources
    "src/lazyindex.c",    # bundles indexed by subject, decoded on demand
    "src/connection.c",   # the TLS connection (socket and BIO driving)
    "src/memorybio.c",    # MemoryBIO
    "src/session.c",      # SSLSession
    "src/distrust.c",     # verification rules of CPython 3.14+: distrusted keys
]
DEPENDS = ["src/_tlsctx.h", "src/lazyindex.h", "src/errtables.h", "src/errtables_30.h",
           "src/errtables_35.h", "src/errtables_36.h", "src/glibc_compat.c"]


def fail(message):
    sys.stderr.write("\ntlsctx build error: %s\n\n" % message)
    raise SystemExit(1)


def version_from_header(include_dirs):
    for d in include_dirs + ["/usr/include", "/usr/local/include"]:
        path = os.path.join(d, "openssl", "opensslv.h")
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            m = re.search(r"#\s*define\s+OPENSSL_VERSION_MAJOR\s+(\d+)", text)
            return int(m.group(1)) if m else 1, path
    return None, None


def pkg_config(*args):
    if not shutil.which("pkg-config"):
        return None
    try:
        out = subprocess.run(["pkg-config", *args, "openssl"], check=True,
                             capture_output=True, text=True).stdout
    except subprocess.CalledProcessError:
        return None
    return out.split()


def glibc_older_than(major, minor):
    name, version = platform.libc_ver()
    if name != "glibc" or not version:
        return False
    return tuple(int(p) for p in version.split(".")[:2]) < (major, minor)


def openssl_flags():
    """Compiler and linker settings for the OpenSSL picked by the environment.

    Default: the system's OpenSSL (pkg-config, else -lssl -lcrypto).
    TLSCTX_OPENSSL_DIR=<prefix>: the OpenSSL under <prefix>/include and
    <prefix>/lib (or lib64), linked dynamically with an rpath; with
    TLSCTX_OPENSSL_STATIC=1 its libssl.a/libcrypto.a are linked into the
    extension and their symbols kept private (-Wl,--exclude-libs,ALL), so it
    coexists with the stdlib _ssl's OpenSSL in one process.
    Returns (include_dirs, library_dirs, libraries, extra_objects,
    extra_link_args, extra_sources, define_macros)."""
    include_dirs, library_dirs, libraries, extra_objects, link_args = [], [], [], [], []
    extra_sources, macros = [], []
    prefix = os.environ.get("TLSCTX_OPENSSL_DIR")
    static = os.environ.get("TLSCTX_OPENSSL_STATIC") == "1"
    if static and not prefix:
        fail("TLSCTX_OPENSSL_STATIC=1 needs TLSCTX_OPENSSL_DIR (the prefix holding "
             "include/openssl and lib/libssl.a).")
    if prefix:
        prefix = os.path.abspath(prefix)
        include = os.path.join(prefix, "include")
        if not os.path.exists(os.path.join(include, "openssl", "opensslv.h")):
            fail("TLSCTX_OPENSSL_DIR=%s has no include/openssl/opensslv.h" % prefix)
        include_dirs.append(include)
        wanted = ["libssl.a", "libcrypto.a"] if static else ["libssl.so", "libcrypto.so"]
        libdir = next((d for d in (os.path.join(prefix, "lib"), os.path.join(prefix, "lib64"))
                       if all(os.path.exists(os.path.join(d, f)) for f in wanted)), None)
        if libdir is None:
            fail("TLSCTX_OPENSSL_DIR=%s has no lib/ (or lib64/) with %s"
                 % (prefix, " and ".join(wanted)))
        if static:
            extra_objects += [os.path.join(libdir, "libssl.a"), os.path.join(libdir, "libcrypto.a")]
            # keep OpenSSL's symbols private so the stdlib's _ssl keeps its own copy;
            # the static libcrypto needs zlib and zstd (compression) at link time
            link_args += ["-Wl,--exclude-libs,ALL", "-lz", "-lzstd", "-lpthread", "-ldl"]
            # its compiled-in CA paths are the build machine's: take the stdlib's
            macros.append(("TLSCTX_OPENSSL_BUNDLED", "1"))
            if glibc_older_than(2, 38):
                # a libcrypto.a built on newer glibc calls __isoc23_strtol
                extra_sources.append("src/glibc_compat.c")
        else:
            library_dirs.append(libdir)
            libraries += ["ssl", "crypto"]
            link_args.append("-Wl,-rpath," + libdir)
    else:
        cflags = pkg_config("--cflags")
        libs = pkg_config("--libs")
        if cflags is not None and libs is not None:
            include_dirs += [f[2:] for f in cflags if f.startswith("-I")]
            library_dirs += [f[2:] for f in libs if f.startswith("-L")]
            libraries += [f[2:] for f in libs if f.startswith("-l")]
        else:
            libraries += ["ssl", "crypto"]
    return include_dirs, library_dirs, libraries, extra_objects, link_args, extra_sources, macros


def missing_build_tools(include_dirs):
    """What a build from source lacks here, one line each (empty: nothing).

    Checked only when the extension is about to be compiled, so that an
    sdist can still be made, and an sdist installed, wherever the tools are."""
    missing = []
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not compiler or not shutil.which(compiler[0]):
        missing.append("a C compiler (%r not found; Debian/Ubuntu: apt-get install gcc, "
                       "Fedora: dnf install gcc)" % (compiler[0] if compiler else "cc"))
    python_h = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    if not os.path.exists(python_h):
        missing.append("the Python headers (%s; Debian/Ubuntu: apt-get install python3-dev, "
                       "Fedora: dnf install python3-devel)" % python_h)
    searched = include_dirs + ["/usr/include", "/usr/local/include"]
    if not any(os.path.exists(os.path.join(d, "openssl", "ssl.h")) for d in searched):
        missing.append("the OpenSSL 3 headers (openssl/ssl.h, looked in %s; Debian/Ubuntu: "
                       "apt-get install libssl-dev, Fedora: dnf install openssl-devel, "
                       "macOS: brew install openssl@3)" % ", ".join(searched))
        if not shutil.which("pkg-config") and "TLSCTX_OPENSSL_DIR" not in os.environ:
            missing.append("pkg-config, which finds OpenSSL installed elsewhere (apt-get install "
                           "pkg-config, dnf install pkgconf-pkg-config), or set TLSCTX_OPENSSL_DIR")
    else:
        major, header = version_from_header(include_dirs)
        if major is not None and major < 3:
            missing.append("OpenSSL >= 3.0: %s is OpenSSL %d.x (install libssl-dev from Debian 12 "
                           "or later, or point TLSCTX_OPENSSL_DIR at an OpenSSL 3 prefix)"
                           % (header, major))
    return missing


class checked_build_ext(build_ext):
    def run(self):
        missing = missing_build_tools(inc)
        if missing:
            fail("tlsctx is being built from source (no binary wheel fits this interpreter "
                 "and platform, or --no-binary asked for a build), and this machine lacks:"
                 "\n  - " + "\n  - ".join(missing))
        super().run()


def compile_args():
    args = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
            "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
    link = []
    if os.environ.get("TLSCTX_WERROR") == "1":
        args.append("-Werror")
    if os.environ.get("TLSCTX_DEBUG") == "1":
        args += ["-O0", "-g3", "-UNDEBUG"]
    if os.environ.get("TLSCTX_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        args += san + ["-O1", "-g"]
        link += san
    return args, link


inc, libdirs, libs, objs, link_args, extra_sources, macros = openssl_flags()
cargs, clink = compile_args()
static = os.environ.get("TLSCTX_OPENSSL_STATIC") == "1"
if static:
    # like the binary wheels: the extension exports only PyInit__tlsctx
    cargs.append("-fvisibility=hidden")

setup(
    ext_modules=[
        Extension(
            "tlsctx._tlsctx",
            sources=SOURCES + extra_sources,
            depends=DEPENDS,
            include_dirs=inc,
            library_dirs=libdirs,
            libraries=libs,
            extra_objects=objs,
            extra_compile_args=cargs,
            extra_link_args=link_args + clink,
            define_macros=[("OPENSSL_API_COMPAT", "0x30000000L")] + macros,
        ),
    ] + ([] if static else [
        # read by tlsctx/__init__.py before _tlsctx loads: the OpenSSL built
        # with and the one running, so a mismatch is an ImportError naming
        # both (a static build carries its OpenSSL: nothing to compare)
        Extension(
            "tlsctx._opensslprobe",
            sources=["src/opensslprobe.c"] + extra_sources,
            include_dirs=inc,
            library_dirs=libdirs,
            libraries=libs,
            extra_objects=objs,
            extra_compile_args=cargs,
            extra_link_args=link_args + clink,
        ),
    ]),
    cmdclass={"build_ext": checked_build_ext},
)
