"""The type stubs: mypy --strict accepts typical user code (tests/typing_sample.py)
and rejects misuse, and mypy.stubtest finds the stubs true to the runtime.

mypy is in the `test` extra; without it these tests skip and say so.
"""
import importlib.util
import os
import pathlib
import ssl
import subprocess
import sys

import pytest
import trustme

import tlsctx
from helpers import strip_location

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "typing_sample.py"
ALLOWLIST = ROOT / "tools" / "stubtest-allowlist.txt"

needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (pip install -e '.[test]' installs it)")

# Stubs written ahead of the connection layer (SSLSocket, SSLObject,
# MemoryBIO, SSLSession, wrap_socket/wrap_bio, get_server_certificate).
# stubtest reports exactly these while tlsctx has no SSLSocket; once it has,
# nothing is tolerated.


def run_mypy(tmp_path, *args):
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


@needs_mypy
def test_sample_passes_mypy_strict(tmp_path):
    result = run_mypy(tmp_path, "--strict", "--warn-unused-ignores", str(SAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


MISUSES = {
    "options_str": ('ctx.options = "x"', "incompatible types in assignment"),
    "certdata_int": ("ctx.load_cert_chain(certdata=5)", 'argument "certdata"'),
    "unknown_method": ("ctx.load_cert_chain_from_memory(b'')", "has no attribute"),
    "der_is_bytes": ("x: list[str] = ctx.get_ca_certs(binary_form=True)", "incompatible types"),
    "version_enum": ("v: str = ctx.minimum_version", "incompatible types"),
    "purpose": ("tlsctx.create_default_context('server')", 'argument 1 to "create_default_context"'),
}


REVEALS = {
    "ctx.options": "tlsctx.Options",
    "ctx.verify_flags & ~tlsctx.VERIFY_X509_STRICT": "tlsctx.VerifyFlags",
    "ctx.verify_mode": "tlsctx.VerifyMode",
    "ctx.maximum_version": "tlsctx.TLSVersion",
    "ctx.protocol": "tlsctx._SSLMethod",
    "tlsctx.CertificateError": "tlsctx._tlsctx.SSLCertVerificationError",
}


@pytest.fixture(scope="module")
def mypy_reports(tmp_path_factory):
    """One mypy --strict run over every misuse and reveal_type snippet (a file
    each): {file stem: the lines mypy printed about that file}."""
    work = tmp_path_factory.mktemp("snippets")
    head = "import tlsctx\nctx = tlsctx.create_default_context()\n"
    files = []
    for case, (line, _) in MISUSES.items():
        files.append(work / ("misuse_%s.py" % case))
        files[-1].write_text(head + line + "\n")
    for number, expression in enumerate(REVEALS):
        files.append(work / ("reveal_%d.py" % number))
        files[-1].write_text(head + "reveal_type(%s)\n" % expression)
    result = run_mypy(work, "--strict", *map(str, files))
    reports = {path.stem: "" for path in files}
    for line in result.stdout.splitlines():
        stem = os.path.splitext(os.path.basename(line.split(":", 1)[0]))[0]
        if stem in reports:
            reports[stem] += line + "\n"
    return reports


@needs_mypy
@pytest.mark.parametrize("case", sorted(MISUSES))
def test_stubs_reject_misuse(mypy_reports, case):
    line, message = MISUSES[case]
    report = mypy_reports["misuse_" + case]
    assert "error:" in report, report
    assert message in report.lower() or message in report, report


@needs_mypy
@pytest.mark.parametrize("expression", sorted(REVEALS))
def test_stub_types_are_the_runtime_types(mypy_reports, expression):
    expected = REVEALS[expression]
    revealed = mypy_reports["reveal_%d" % list(REVEALS).index(expression)]
    assert "Revealed type" in revealed and expected in revealed, revealed
    # and the runtime agrees with the stub
    ctx = tlsctx.create_default_context()
    value = eval(expression, {"ctx": ctx, "tlsctx": tlsctx})
    runtime_type = value if isinstance(value, type) else type(value)
    assert runtime_type.__qualname__ == expected.rsplit(".", 1)[1]


@needs_mypy
def test_stubtest(tmp_path):
    command = [sys.executable, "-m", "mypy.stubtest", "tlsctx", "--mypy-config-file",
               str(tmp_path / "none.ini")]
    (tmp_path / "none.ini").write_text("[mypy]\ncache_dir = %s\n" % (tmp_path / "cache"))
    if ALLOWLIST.exists():
        command += ["--allowlist", str(ALLOWLIST)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the sample is real code: run what needs no network ------------------------

@pytest.fixture(scope="module")
def sample():
    spec = importlib.util.spec_from_file_location("typing_sample", SAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_runs(sample, tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))

    client = sample.client_context(str(cafile))
    facts = sample.describe(client)
    std = ssl.create_default_context(cafile=str(cafile))
    assert facts["stats"] == std.cert_store_stats()
    assert facts["subjects"] == [repr(c["subject"]) for c in std.get_ca_certs()]
    assert facts["required"] and facts["check_hostname"] and not facts["strict"]
    assert facts["minimum"] == "TLSv1_2"

    chain = "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems)
    server = sample.server_context(chain, leaf.private_key_pem.bytes())
    assert sample.describe(server)["protocol"] == "PROTOCOL_TLS_SERVER"
    sample.use_sni(server)
    assert server.sni_callback is None

    # the same bad input explained the same way as the stdlib's error
    bad = "-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n"
    with pytest.raises(ssl.SSLError) as std_error:
        ssl.create_default_context().load_verify_locations(cadata=bad)
    mine = sample.load_or_explain(client, bad)
    assert strip_location(mine) == strip_location(sample.explain(std_error.value))
    assert sample.features()["tlsctx"] == tlsctx.__version__


@pytest.mark.skipif(not hasattr(tlsctx, "SSLSocket"),
                    reason="the connection layer (tlsctx.SSLSocket) is not merged yet")
def test_sample_fetch_over_loopback(sample, tmp_path):
    import socket
    import threading

    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_ctx)
    server_ctx.set_alpn_protocols(["http/1.1"])
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received = []

    def serve():
        with listener:
            raw, _ = listener.accept()
            with server_ctx.wrap_socket(raw, server_side=True) as tls:
                received.append(tls.recv(1024))
                tls.sendall(b"HTTP/1.0 200 OK\r\n\r\n")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        version, alpn, reply = sample.fetch("localhost", port, sample.client_context(str(cafile)))
    finally:
        thread.join(timeout=30)
    assert received and received[0].startswith(b"HEAD / HTTP/1.0")
    assert reply == b"HTTP/1.0 200 OK\r\n\r\n"
    assert alpn == "http/1.1" and version in ("TLSv1.2", "TLSv1.3")
