"""Stress scenarios for test_threads_trust.py, run in a child process so that
a crash or a hang fails one test instead of ending the run.

    python threads_trust_worker.py SCENARIO MODULE DIRECTORY

MODULE is "tlsctx" or "ssl" (the control). The last line printed is a JSON
report: handshakes that succeeded, that failed with an SSL exception, any
other exception (there must be none), and how often a bystander context's
get_ca_certs()/cert_store_stats() differed from what they were at the start
(they must never). Every loop is bounded by a deadline and a count; threads
that do not finish are reported as hung."""
import faulthandler
import json
import os
import socket
import ssl
import sys
import threading
import time

import trustme

import tlsctx

# seconds of stress per scenario (tools/sanitize.sh and soaks ask for longer)
DURATION = float(os.environ.get("TLSCTX_STRESS_SECONDS", "0.6"))
JOIN_TIMEOUT = 30   # a thread still running after this has hung


class Pki:
    def __init__(self, directory):
        self.ca = trustme.CA()
        self.others = [trustme.CA() for _ in range(5)]
        leaf = self.ca.issue_cert("localhost", "127.0.0.1")
        self.server = self._write(directory, "server.pem", leaf.private_key_and_cert_chain_pem)
        self.cafile = self._write(directory, "ca.pem", self.ca.cert_pem)
        # several roots around the right one, in no particular order
        pems = [c.cert_pem.bytes() for c in self.others[:3]] + [self.ca.cert_pem.bytes()] \
            + [c.cert_pem.bytes() for c in self.others[3:]]
        self.bundle = os.path.join(directory, "bundle.pem")
        with open(self.bundle, "wb") as f:
            f.write(b"".join(pems))
        self.extra_files = []
        for i, other in enumerate(self.others):
            self.extra_files.append(self._write(directory, "other%d.pem" % i, other.cert_pem))
        self.cadata = [c.cert_pem.bytes().decode() for c in self.others]

    @staticmethod
    def _write(directory, name, blob):
        path = os.path.join(directory, name)
        blob.write_to_path(path)
        return path


class Report:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.ssl_errors = 0
        self.other_errors = []
        self.isolation_changes = 0
        self.reconfigurations = 0

    def outcome(self, func):
        try:
            func()
        except ssl.SSLError:
            with self.lock:
                self.ssl_errors += 1
        except tlsctx.SSLError:
            with self.lock:
                self.ssl_errors += 1
        except Exception as exc:  # noqa: BLE001 - reported
            with self.lock:
                self.other_errors.append("%s: %s" % (type(exc).__name__, exc))
        else:
            with self.lock:
                self.ok += 1


def bio_handshake(mod, cctx, sctx, smod=None):
    """Client (of module `mod`) and server (of `smod`, by default the same)
    over memory BIOs, in this thread; raises what the handshake raises."""
    smod = smod or mod
    c_in, c_out = mod.MemoryBIO(), mod.MemoryBIO()
    s_in, s_out = smod.MemoryBIO(), smod.MemoryBIO()
    client = cctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(50):
        for name, obj, m in (("client", client, mod), ("server", server, smod)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except m.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if done["client"] and done["server"]:
            return
    raise RuntimeError("handshake did not finish")


def loopback_handshake(cctx, address):
    with socket.create_connection(address) as raw:
        raw.settimeout(30)
        with cctx.wrap_socket(raw, server_hostname="localhost") as conn:
            conn.sendall(b"x")
            if conn.recv(1) != b"x":
                raise RuntimeError("echo lost")


class LoopbackServer:
    """Echoes one byte per connection, each in a thread of its own."""

    def __init__(self, sctx, report):
        self.sctx = sctx
        self.report = report
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        self.threads = []
        self.acceptor = threading.Thread(target=self.accept, daemon=True)
        self.acceptor.start()

    def accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(raw,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, raw):
        raw.settimeout(30)
        try:
            with self.sctx.wrap_socket(raw, server_side=True) as conn:
                data = conn.recv(1)
                if data:
                    conn.sendall(data)
        except (ssl.SSLError, tlsctx.SSLError, OSError):
            pass   # the client side reports the outcome
        except Exception as exc:  # noqa: BLE001 - reported
            with self.report.lock:
                self.report.other_errors.append("server %s: %s" % (type(exc).__name__, exc))
        finally:
            raw.close()

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.acceptor.join(JOIN_TIMEOUT)
        for t in self.threads:
            t.join(JOIN_TIMEOUT)


def view(ctx):
    return ctx.get_ca_certs(True), ctx.cert_store_stats()


def client_context(mod, pki):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.bundle)
    return ctx


def server_context(mod, pki):
    ctx = mod.SSLContext(mod.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server)
    return ctx


def run_threads(targets):
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    hung = 0
    for t in threads:
        t.join(JOIN_TIMEOUT)
        hung += t.is_alive()
    if hung:
        faulthandler.dump_traceback(all_threads=True)   # to stderr, for the test's message
    return hung


def scenario(name, mod, pki):
    report = Report()
    deadline = time.monotonic() + DURATION
    client = client_context(mod, pki)
    # the server side is the stdlib's for both runs: only the client side's
    # library is under test
    smod = ssl
    server = server_context(smod, pki)
    # bystanders: the same trust as the client, one that never handshakes
    # and one whose own handshakes sort its list
    quiet = client_context(mod, pki)
    busy = client_context(mod, pki)
    bio_handshake(mod, busy, server, smod)
    quiet_view, busy_view = view(quiet), view(busy)
    server_peer = None

    def reconfigure():
        strict = getattr(mod, "VERIFY_X509_STRICT", 0x20)
        partial = getattr(mod, "VERIFY_X509_PARTIAL_CHAIN", 0x80000)
        i = 0
        while time.monotonic() < deadline and i < 100000:
            step = i % 7
            if step == 0:
                client.verify_flags ^= strict
            elif step == 6:
                # no CRL is loaded: handshakes fail while this is on
                client.verify_flags ^= mod.VERIFY_CRL_CHECK_LEAF
            elif step == 1:
                client.verify_flags ^= partial
            elif step == 2 and mod is tlsctx:
                tlsctx.clear_trust_cache()
            elif step == 3:
                client.load_verify_locations(pki.extra_files[i % len(pki.extra_files)])
            elif step == 4:
                client.load_verify_locations(cadata=pki.cadata[i % len(pki.cadata)])
            else:
                client.load_verify_locations(pki.bundle)
            i += 1
        with report.lock:
            report.reconfigurations = i

    def check_bystanders():
        while time.monotonic() < deadline:
            if view(quiet) != quiet_view or view(busy) != busy_view:
                with report.lock:
                    report.isolation_changes += 1
            time.sleep(0.001)

    def handshakes_bio():
        n = 0
        while time.monotonic() < deadline and n < 100000:
            report.outcome(lambda: bio_handshake(mod, client, server, smod))
            n += 1

    def handshakes_loopback():
        n = 0
        while time.monotonic() < deadline and n < 100000:
            report.outcome(lambda: loopback_handshake(client, server_peer.address))
            n += 1

    def churn():
        n = 0
        while time.monotonic() < deadline and n < 100000:
            def one():
                ctx = mod.create_default_context(cafile=pki.bundle)
                if n % 2:
                    ctx.verify_flags ^= getattr(mod, "VERIFY_X509_STRICT", 0x20)
                bio_handshake(mod, ctx, server, smod)
            report.outcome(one)
            if mod is tlsctx and n % 5 == 0:
                tlsctx.clear_trust_cache()
            n += 1

    def busy_handshakes():
        n = 0
        while time.monotonic() < deadline and n < 100000:
            report.outcome(lambda: bio_handshake(mod, busy, server, smod))
            n += 1

    if name == "bio":
        targets = [handshakes_bio, handshakes_bio, reconfigure, check_bystanders]
    elif name == "loopback":
        server_peer = LoopbackServer(server, report)
        targets = [handshakes_loopback, handshakes_loopback, reconfigure, check_bystanders]
    elif name == "churn":
        targets = [churn, churn, handshakes_bio, reconfigure, check_bystanders]
    elif name == "isolation":
        # the bystander `busy` handshakes on its own too: its list stays
        # sorted, the quiet one's stays as loaded
        targets = [handshakes_bio, busy_handshakes, reconfigure, check_bystanders]
    else:
        raise SystemExit("unknown scenario %r" % name)
    hung = run_threads(targets)
    if server_peer is not None:
        server_peer.stop()
    # after the storm: the client context still verifies and reports
    final = []
    report.outcome(lambda: final.append(bio_handshake(mod, client_context(mod, pki), server, smod)))
    return {
        "ok": report.ok,
        "ssl_errors": report.ssl_errors,
        "other_errors": report.other_errors[:20],
        "isolation_changes": report.isolation_changes,
        "reconfigurations": report.reconfigurations,
        "hung_threads": hung,
        "final_ok": len(final) == 1,
        "quiet_unchanged": view(quiet) == quiet_view,
    }


def main():
    name, module_name, directory = sys.argv[1:4]
    mod = tlsctx if module_name == "tlsctx" else ssl
    result = scenario(name, mod, Pki(directory))
    print(json.dumps(result))
    sys.stdout.flush()
    # daemon threads that hung must not keep the process alive
    os._exit(0)


if __name__ == "__main__":
    main()
