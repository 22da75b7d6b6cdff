#!/usr/bin/env python3
"""Binary wheels of tlsctx for every CPython of the platforms (3.10-3.15,
x86_64 Linux), with OpenSSL 3.5 linked in statically and its symbols hidden.

    python3 tools/build_wheels.py [--out DIR] [--only 3.12,3.14]

run as root from anywhere: about 30 seconds once the build chroot, the sid
chroot and OpenSSL are there; making the bullseye chroot adds about 3 minutes
and a missing sid chroot (tools/chroot.sh make sid) a few more.  Wheels land
in dist/wheels/, manylinux-tagged, with their `auditwheel show` reports
beside them.

How:
  * OpenSSL 3.5: Debian trixie's libssl-dev (libssl.a, libcrypto.a, headers),
    fetched by tools/openssl35_prefix.sh through a private apt configuration;
    the mirror is read from this machine's /etc/apt at run time.
  * C library: everything is compiled and linked inside a debootstrap
    --variant=minbase chroot of Debian 11 "bullseye" (glibc 2.31, gcc 10),
    the oldest Debian the mirror still serves, so that no glibc symbol newer
    than bullseye's can be bound; tools/debian.sh makes and enters it, as it
    does every chroot of the repository.  The chroot lives in
    $TLSCTX_CHROOTS/wheelbuild-bullseye (default /var/tmp/tlsctx-chroots)
    and is reused.  The one glibc 2.38 symbol trixie's libcrypto.a needs
    (__isoc23_strtol) comes from src/glibc_compat.c.  zlib and zstd, which
    that libcrypto calls for certificate compression, are linked in
    statically from bullseye too: the extension needs nothing but libc.
  * Python headers: the pyenv installations (/root/.pyenv/versions/3.1x.*)
    for 3.10-3.13, and Debian sid's python3.14/python3.15 (from the sid
    chroot of tools/chroot.sh) for 3.14/3.15; the extension suffix comes from
    each interpreter's own sysconfig.
  * Symbols: -Wl,--exclude-libs,ALL plus a version script that exports only
    PyInit__tlsctx; checked with nm -D after the link.
  * Packaging: the metadata comes from setuptools' PEP 517 hook
    (prepare_metadata_for_build_wheel) on this tree, the wheel from
    `wheel pack`, and the manylinux tag from `auditwheel repair`, which
    picks the oldest policy the wheel's symbol versions satisfy and refuses
    any library outside the manylinux set (`auditwheel show` is kept beside
    each wheel).  auditwheel, wheel and setuptools are installed into
    build/wheels/tools-venv; auditwheel needs patchelf (Debian's package).
"""
import argparse
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "wheels")
DEBIAN_SH = os.path.join(ROOT, "tools", "debian.sh")
CHROOTS = subprocess.run([DEBIAN_SH, "chroots"], check=True, capture_output=True,
                         text=True).stdout.strip()
BUILD_SUITE = "bullseye"
BUILD_CHROOT = os.path.join(CHROOTS, "wheelbuild-" + BUILD_SUITE)
BUILD_PACKAGES = "gcc libc6-dev zlib1g-dev libzstd-dev"
SID_CHROOT = os.path.join(CHROOTS, "sid")
TRIPLET = "x86_64-linux-gnu"
# the compiler flags CPython's own sysconfig gives extensions, plus setup.py's
CFLAGS = ["-std=c11", "-O2", "-fPIC", "-fwrapv", "-fno-strict-overflow", "-DNDEBUG",
          "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
          "-Wno-cast-function-type", "-Wno-sign-compare",
          "-DOPENSSL_API_COMPAT=0x30000000L", "-DTLSCTX_OPENSSL_BUNDLED=1"]


def say(message):
    print("== build_wheels: %s" % message, flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


def debian(*args, **kwargs):
    """tools/debian.sh, the one implementation of the Debian mirror look-up,
    debootstrap chroots and commands run inside them."""
    return run([DEBIAN_SH] + list(args), **kwargs)


def ensure_build_chroot():
    debian("make_chroot", BUILD_SUITE, BUILD_CHROOT, BUILD_PACKAGES)


def in_chroot(chroot, script):
    """Run a shell script inside a chroot, /proc and /dev mounted in a private
    mount namespace (nothing stays mounted afterwards)."""
    debian("run_in", chroot, "/bin/sh", "-ec", script)


def setup_py_sources():
    """SOURCES and the compatibility shim, as setup.py lists them."""
    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SOURCES":
            return ast.literal_eval(node.value) + ["src/glibc_compat.c"]
    sys.exit("build_wheels: no SOURCES list in setup.py")


def targets(only):
    """(minor version, include dirs to copy, EXT_SUFFIX) for each CPython."""
    found = {}
    for python in sorted(glob.glob("/root/.pyenv/versions/3.1[0-3].*/bin/python"),
                         key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[-3])]):
        out = subprocess.run([python, "-c", "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]);"
                              "print(sysconfig.get_config_var('INCLUDEPY'));"
                              "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                             check=True, capture_output=True, text=True).stdout.split("\n")
        found[out[0]] = ([(out[1], "python" + out[0])], out[2], python)
    for minor in ("3.14", "3.15"):
        if only and minor not in only:
            continue
        base = os.path.join(SID_CHROOT, "usr", "include")
        # tools/chroot.sh makes the sid chroot (with python3.X-dev) when missing
        out = subprocess.run([os.path.join(ROOT, "tools", "chroot.sh"), "run", "sid", "python" + minor,
                              "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
        found[minor] = ([(os.path.join(base, "python" + minor), "python" + minor),
                         (os.path.join(base, TRIPLET, "python" + minor),
                          os.path.join(TRIPLET, "python" + minor))],
                        out, "python%s (Debian sid)" % minor)
    if only:
        found = {k: v for k, v in found.items() if k in only}
    return found


def build_extension(minor, includes, ext_suffix, prefix, sources, objdir_name):
    """Compile and link _tlsctx for one CPython inside the build chroot;
    returns the path of the .so on the host."""
    inside = "/build/tlsctx-wheels/" + objdir_name
    host = BUILD_CHROOT + inside
    shutil.rmtree(host, ignore_errors=True)
    os.makedirs(host + "/include")
    shutil.copytree(os.path.join(ROOT, "src"), host + "/src")
    shutil.copytree(prefix, host + "/openssl")
    for source, name in includes:
        shutil.copytree(source, os.path.join(host, "include", name), symlinks=True)
    with open(host + "/exports.map", "w") as f:
        f.write("{\n  global: PyInit__tlsctx;\n  local: *;\n};\n")
    so = "_tlsctx" + ext_suffix
    flags = " ".join(CFLAGS + ["-I%s/include/python%s" % (inside, minor), "-I%s/include" % inside,
                               "-I%s/openssl/include" % inside])
    lines = ["cd %s" % inside, "mkdir -p obj"]
    objects = []
    for source in sources:
        obj = "obj/" + os.path.basename(source)[:-2] + ".o"
        objects.append(obj)
        lines.append("gcc -c %s %s -o %s" % (flags, source, obj))
    lines.append("gcc -shared -o %s %s openssl/lib/libssl.a openssl/lib/libcrypto.a "
                 "/usr/lib/%s/libz.a /usr/lib/%s/libzstd.a "
                 "-Wl,--exclude-libs,ALL -Wl,--version-script=exports.map "
                 "-Wl,-z,relro,-z,now -Wl,--as-needed -Wl,--strip-debug -lpthread -ldl"
                 % (so, " ".join(objects), TRIPLET, TRIPLET))
    in_chroot(BUILD_CHROOT, "\n".join(lines))
    path = os.path.join(host, so)
    exported = subprocess.run(["nm", "-D", "--defined-only", path], check=True,
                              capture_output=True, text=True).stdout.split()
    names = [w for w in exported if re.match(r"^[A-Za-z_]\w*$", w) and w not in ("T", "D", "B", "A", "R", "W")]
    if names != ["PyInit__tlsctx"]:
        sys.exit("build_wheels: %s exports %s, not only PyInit__tlsctx" % (so, names))
    headers = subprocess.run(["objdump", "-p", path], check=True, capture_output=True,
                             text=True).stdout
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)", headers, re.M))
    # glibc's dynamic loader is part of the C library (thread-local variables
    # bind its __tls_get_addr), and in every manylinux policy
    if not needed <= {"libc.so.6", "libpthread.so.0", "libdl.so.2", "ld-linux-x86-64.so.2"}:
        sys.exit("build_wheels: %s needs %s; only the C library is allowed" % (so, sorted(needed)))
    return path


def metadata(tools_python, dest):
    """The .dist-info setuptools makes for this tree (PEP 517 hook)."""
    out = subprocess.run([tools_python, "-c",
                          "import sys; from setuptools import build_meta as b;"
                          "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))", dest],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()[-1]
    return os.path.join(dest, out)


def pack_wheel(tools_venv, distinfo, so, minor, outdir):
    tag = "cp" + minor.replace(".", "")
    name_version = os.path.basename(distinfo)[:-len(".dist-info")]
    stage_root = tempfile.mkdtemp(dir=WORK)
    stage = os.path.join(stage_root, name_version)
    os.makedirs(os.path.join(stage, "tlsctx"))
    for pattern in ("*.py", "*.pyi", "py.typed"):
        for path in glob.glob(os.path.join(ROOT, "tlsctx", pattern)):
            shutil.copy(path, os.path.join(stage, "tlsctx"))
    shutil.copy(so, os.path.join(stage, "tlsctx"))
    shutil.copytree(distinfo, os.path.join(stage, os.path.basename(distinfo)))
    with open(os.path.join(stage, os.path.basename(distinfo), "WHEEL"), "w") as f:
        f.write("Wheel-Version: 1.0\nGenerator: tools/build_wheels.py\nRoot-Is-Purelib: false\n"
                "Tag: %s-%s-linux_x86_64\n" % (tag, tag))
    raw = os.path.join(WORK, "raw")
    os.makedirs(raw, exist_ok=True)
    for old in glob.glob(os.path.join(raw, "*-%s-%s-*.whl" % (tag, tag))):
        os.remove(old)
    run([os.path.join(tools_venv, "bin", "wheel"), "pack", "-d", raw, stage], stdout=subprocess.DEVNULL)
    shutil.rmtree(stage_root)
    (wheel,) = glob.glob(os.path.join(raw, "*-%s-%s-linux_x86_64.whl" % (tag, tag)))
    for old in glob.glob(os.path.join(outdir, "*-%s-%s-*.whl*" % (tag, tag))):
        os.remove(old)
    # auditwheel names the oldest manylinux policy the symbol versions allow
    # and refuses any library outside the manylinux set; nothing needs
    # grafting (OpenSSL, zlib and zstd are linked in), so the wheel is
    # retagged rather than repaired (repair would need patchelf >= 0.14.5,
    # newer than Debian 12's).
    auditwheel = os.path.join(tools_venv, "bin", "auditwheel")
    show = " ".join(subprocess.run([auditwheel, "show", wheel], check=True, capture_output=True,
                                   text=True).stdout.split())
    m = re.search(r'consistent with the following platform tag: "(manylinux_\d+_\d+_x86_64)"', show)
    if not m:
        sys.exit("build_wheels: auditwheel gives no manylinux tag: " + show)
    shutil.copy(wheel, outdir)
    retag = subprocess.run([os.path.join(tools_venv, "bin", "wheel"), "tags", "--remove",
                            "--platform-tag", m.group(1), os.path.join(outdir, os.path.basename(wheel))],
                           cwd=outdir, check=True, capture_output=True, text=True).stdout.split()[-1]
    repaired = os.path.join(outdir, os.path.basename(retag))
    show = subprocess.run([auditwheel, "show", repaired], check=True, capture_output=True,
                          text=True).stdout
    if m.group(1) not in " ".join(show.split()):
        sys.exit("build_wheels: auditwheel disagrees with the tag of %s: %s" % (repaired, show))
    with open(repaired + ".auditwheel.txt", "w") as f:
        f.write(show)
    return repaired, show


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "dist", "wheels"))
    parser.add_argument("--only", default="", help="comma-separated minor versions, e.g. 3.12,3.14")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("build_wheels: needs root (apt-get, debootstrap, chroot)")
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    debian("install", "patchelf")
    tools_venv = os.path.join(WORK, "tools-venv")
    if not os.path.exists(os.path.join(tools_venv, "bin", "auditwheel")):
        say("tools venv: auditwheel, wheel, setuptools")
        run([sys.executable, "-m", "venv", tools_venv])
        run([os.path.join(tools_venv, "bin", "pip"), "install", "-q", "auditwheel", "wheel", "setuptools>=61"])
    prefix = subprocess.run([os.path.join(ROOT, "tools", "openssl35_prefix.sh"),
                             os.path.join(WORK, "openssl35")],
                            check=True, stdout=subprocess.PIPE, text=True).stdout.split()[-1]
    ensure_build_chroot()
    sources = setup_py_sources()
    meta_dir = tempfile.mkdtemp(dir=WORK)
    distinfo = metadata(os.path.join(tools_venv, "bin", "python"), meta_dir)
    built = []
    for minor, (includes, suffix, origin) in targets(set(filter(None, args.only.split(",")))).items():
        say("CPython %s (headers of %s)" % (minor, origin))
        so = build_extension(minor, includes, suffix, prefix, sources, "py" + minor)
        wheel, show = pack_wheel(tools_venv, distinfo, so, minor, args.out)
        say("%s: %s" % (os.path.basename(wheel), " ".join(show.split())[:300]))
        built.append(wheel)
    shutil.rmtree(meta_dir)
    if not built:
        sys.exit("build_wheels: no interpreter found")
    say("%d wheels in %s" % (len(built), args.out))
    for wheel in built:
        print(wheel)


if __name__ == "__main__":
    main()
