"""Trust stores under threads (issue 14, items 1 and 2): handshakes on one
context while another thread changes that context's verify_flags, loads
more trust and clears the trust cache; contexts made and dropped all the
while; bystander contexts with the same trust whose get_ca_certs() order and
cert_store_stats() must never change.

Each scenario runs in a child process (threads_trust_worker.py) for about
1.5 s of stress, so that a crash or a hang fails that test and not the run;
the stdlib runs the same scenario as the control (without
clear_trust_cache(), which it does not have). Real handshakes: memory BIOs
and loopback sockets, the server side always the stdlib's."""
import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "threads_trust_worker.py")
SCENARIOS = ["bio", "loopback", "churn", "isolation"]


def run_worker(scenario, module, directory):
    proc = subprocess.run([sys.executable, WORKER, scenario, module, str(directory)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        "worker died with %d (a crash?)\n%s" % (proc.returncode, proc.stderr[-6000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.parametrize("module", ["tlsctx", "ssl"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_trust_under_threads(tmp_path, scenario, module):
    report, stderr = run_worker(scenario, module, tmp_path)
    assert report["hung_threads"] == 0, stderr[-6000:]
    assert report["other_errors"] == []          # only SSL exceptions may end a handshake
    assert report["ok"] > 0 and report["reconfigurations"] > 0
    assert report["isolation_changes"] == 0      # bystanders never saw their trust change
    assert report["quiet_unchanged"]
    assert report["final_ok"]                    # a fresh context verifies afterwards
