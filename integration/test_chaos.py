"""``make chaos`` in CI: a three-minute Jepsen-style run, and the proof that its checker fails
on a broken build.

The run uses the harness of :mod:`kafkalite.testing.chaos` (three brokers and a real
ZooKeeper behind fault proxies, idempotent and transactional producers, read_committed
consumers, a nemesis) with the fault kinds that heal quickly; every anomaly row of the
checker must be 0. Long runs (``make chaos DURATION=1800``) are for before a release.

The broken build is a broker started with ``KAFKALITE_TEST_UNSAFE_ACKS=1`` (acks=all answered
before the followers have the records); with the followers cut off and the leader killed, the
checker must report acknowledged records lost, and the same script on a correct broker must
lose none. Histories and reports are kept under ``test-output/chaos/``.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import pytest

from kafkalite.cli.cluster import REPO_ROOT
from kafkalite.testing.chaos.nemesis import CI_FAULTS
from kafkalite.testing.chaos.run import run_chaos
from kafkalite.testing.chaos.scenarios import (acked_then_leader_killed,
                                               unclean_election_after_isr_shrink)
from kafkalite.testing.checker import format_report
from kafkalite.testing.proxy import BLACKHOLE, RESET, ProxyNet

pytestmark = [pytest.mark.zk, pytest.mark.slow]

OUTPUT = REPO_ROOT / "test-output" / "chaos"
CI_DURATION_S = 180


def _outdir(name: str):
    path = OUTPUT / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def _keep_small(outdir) -> None:
    """Broker data is large and says nothing the logs and the history do not."""
    for data in outdir.glob("cluster/broker-*/logs"):
        shutil.rmtree(data, ignore_errors=True)


def test_short_chaos_run_has_no_anomalies(zookeeper):
    # ``zookeeper``: the suite's check that a ZooKeeper can run here (the harness runs its
    # own, which it restarts as a fault).
    outdir = _outdir("ci-run")
    report = run_chaos(outdir, CI_DURATION_S, kinds=CI_FAULTS, seed=20240)
    text = format_report(report)
    print(text)
    saved = json.loads((outdir / "chaos.json").read_text())
    _keep_small(outdir)
    assert saved["ok"] == report.ok
    assert report.final_read, text
    assert report.anomalies() == {}, text
    assert sum(report.faults.values()) >= 8 and len(report.faults) >= 4, text
    assert report.acked >= 2000, text
    assert report.transactions.get("commit", 0) > 0 and report.transactions.get("abort", 0) > 0


@pytest.mark.parametrize("unsafe", [True, False], ids=["unsafe-acks", "correct-broker"])
def test_checker_reports_loss_from_a_broker_that_acks_too_early(zookeeper, unsafe):
    outdir = _outdir("unsafe-acks" if unsafe else "safe-acks")
    env = {"KAFKALITE_TEST_UNSAFE_ACKS": "1"} if unsafe else None
    report = acked_then_leader_killed(outdir, broker_env=env)
    text = format_report(report)
    print(text)
    _keep_small(outdir)
    if unsafe:
        assert report.lost > 0 and not report.ok, text
    else:
        assert report.ok, text


# -- the fault proxy itself (no ZooKeeper) --------------------------------------------------

@pytest.fixture
def echo_server():
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


def test_proxy_blackhole_holds_bytes_until_healed(echo_server):
    with ProxyNet() as net:
        port = net.add("x", "127.0.0.1", echo_server)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"one")
            assert _recv_exactly(s, 3) == b"one"
            net.set("x", BLACKHOLE)
            s.sendall(b"two")
            s.settimeout(1)
            with pytest.raises(socket.timeout):
                s.recv(10)
            net.heal()
            s.settimeout(5)
            assert _recv_exactly(s, 3) == b"two"   # nothing lost, nothing reordered


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(10) == b""
    except OSError:
        return True


def test_proxy_reset_closes_and_refuses(echo_server):
    with ProxyNet() as net:
        port = net.add("x", "127.0.0.1", echo_server)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"a")
            assert _recv_exactly(s, 1) == b"a"
            net.set("x", RESET)
            assert _closed(s)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s2:
                assert _closed(s2)
        except ConnectionResetError:
            pass  # the proxy's reset arrived before connect() returned: refused all the same
        net.heal()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s3:
            s3.sendall(b"b")
            assert _recv_exactly(s3, 1) == b"b"


def test_proxy_delay_and_rate(echo_server):
    with ProxyNet() as net:
        port = net.add("x", "127.0.0.1", echo_server)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            net.set("x", "pass", delay_s=0.3)
            t0 = time.monotonic()
            s.sendall(b"ping")
            assert _recv_exactly(s, 4) == b"ping"
            assert time.monotonic() - t0 >= 0.6   # 0.3 s each way: a lower bound, not a timing
            net.set("x", "pass", rate=64 * 1024)
            t0 = time.monotonic()
            s.sendall(b"x" * 64 * 1024)
            _recv_exactly(s, 64 * 1024)
            assert time.monotonic() - t0 >= 0.9   # 64 KiB at 64 KiB/s each way


def test_unclean_election_loss_is_reported(zookeeper):
    """R8: with unclean election on and min.insync.replicas=1, a leader that acknowledged
    alone and died loses those records to an out-of-sync successor; the checker reports the
    loss and the controller logs the unclean election."""
    outdir = _outdir("unclean-election")
    report = unclean_election_after_isr_shrink(outdir)
    text = format_report(report)
    print(text)
    run = json.loads((outdir / "chaos.json").read_text())["run"]
    _keep_small(outdir)
    assert run["unclean_warnings"] >= 1, run
    assert report.lost > 0 and not report.ok, text
