"""Build script for the tlsctx C extension.

Environment switches:
  TLSCTX_OPENSSL_DIR  build against the OpenSSL under this prefix (include/ and lib/);
                      with TLSCTX_OPENSSL_STATIC=1 it is linked statically, symbols hidden.
  TLSCTX_SANITIZE=1   ASan + UBSan instrumented build (run with LD_PRELOAD of libasan).
  TLSCTX_DEBUG=1      -O0 -g, assertions on.
  TLSCTX_WERROR=1     warnings are errors.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup

SOURCES = [
    "src/_tlsctx.c",      # module, state, exec steps
    "src/errors.c",       # exception hierarchy and the OpenSSL error funnel
    "src/constants.c",    # {name, value} tables
    "src/context.c",      # the _SSLContext type: core attributes
    "src/context_endpoint.c",  # certificates, ciphers, ALPN, callbacks, keylog
    "src/certdecode.c",   # X509 -> dict, ASN1 objects
    "src/trustcache.c",   # shared, parsed trust sources
    "src/connection.c",   # the TLS connection, MemoryBIO, SSLSession
]
DEPENDS = ["src/_tlsctx.h", "src/errtables.h"]


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


def openssl_flags():
    include_dirs, library_dirs, libraries, extra_objects, link_args = [], [], [], [], []
    prefix = os.environ.get("TLSCTX_OPENSSL_DIR")
    if prefix:
        include_dirs.append(os.path.join(prefix, "include"))
        libdir = os.path.join(prefix, "lib")
        if os.environ.get("TLSCTX_OPENSSL_STATIC") == "1":
            extra_objects += [os.path.join(libdir, "libssl.a"), os.path.join(libdir, "libcrypto.a")]
            # keep OpenSSL's symbols private so the stdlib's _ssl keeps its own copy
            link_args += ["-Wl,--exclude-libs,ALL", "-lz", "-lzstd", "-lpthread", "-ldl"]
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
    major, header = version_from_header(include_dirs)
    if header is None:
        fail("the OpenSSL 3 development headers were not found (openssl/opensslv.h).\n"
             "Install them first: apt-get install libssl-dev (Debian/Ubuntu), "
             "dnf install openssl-devel (Fedora), brew install openssl@3 (macOS).")
    if major < 3:
        fail("tlsctx needs OpenSSL >= 3.0, but %s is OpenSSL %d.x.\n"
             "Install OpenSSL 3 headers (libssl-dev from Debian 12 or later) or point "
             "TLSCTX_OPENSSL_DIR at an OpenSSL 3 prefix." % (header, major))
    return include_dirs, library_dirs, libraries, extra_objects, link_args


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


inc, libdirs, libs, objs, link_args = openssl_flags()
cargs, clink = compile_args()

setup(
    ext_modules=[
        Extension(
            "tlsctx._tlsctx",
            sources=SOURCES,
            depends=DEPENDS,
            include_dirs=inc,
            library_dirs=libdirs,
            libraries=libs,
            extra_objects=objs,
            extra_compile_args=cargs,
            extra_link_args=link_args + clink,
            define_macros=[("OPENSSL_API_COMPAT", "0x30000000L")],
        )
    ],
)
