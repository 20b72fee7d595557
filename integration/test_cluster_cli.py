"""``make cluster`` with three brokers, then Kafka's "Setting up a multi-broker cluster" steps.

The real supervisor (``python -m kafkalite.cli.cluster``, what ``make cluster`` runs) is started
on a copy of ``config/`` whose ports are free loopback ports, with its state directory in the
test's temp dir: ZooKeeper plus brokers 0, 1 and 2 from server.properties, server-1 and
server-2. Each broker is announced with its listener, metrics and console URLs and its log
directory, where it writes Kafka's log files (server.log, controller.log on the controller,
state-change.log). A replicated topic gets its leaders spread over the three brokers; a
single-partition one keeps serving its messages after its leader is killed with SIGKILL, as in
Kafka's quickstart. The supervisor is stopped by PID and must take every process with it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections import Counter

import pytest

from kafkalite.cli.cluster import REPO_ROOT, free_port
from kafkalite.testing.processes import run_script, wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def describe(*where: str, topic: str) -> list[dict[str, str]]:
    """The partition lines of ``kafka-topics.sh --describe`` as dicts (Leader, Replicas, Isr)."""
    rc, out, err = run_script("kafka-topics.sh", "--describe", *where, "--topic", topic)
    assert rc == 0, err
    return [dict(re.findall(r"(\w+): (\S*)", line)) for line in out.splitlines()
            if line.startswith("\t")]


@pytest.fixture
def cluster_config(tmp_path):
    """config/ copied with free ports: (config dir, ZooKeeper port, broker ports, and each
    broker's (metrics, console) HTTP ports)."""
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    zk_port = free_port()
    ports = [free_port() for _ in range(3)]
    http = [(free_port(), free_port()) for _ in range(3)]
    zk_props = config / "zookeeper.properties"
    zk_props.write_text(zk_props.read_text().replace("clientPort=2181", f"clientPort={zk_port}"))
    for i, name in enumerate(["server.properties", "server-1.properties", "server-2.properties"]):
        path = config / name
        text = path.read_text()
        assert f"broker.id={i}\n" in text and f"localhost:{9092 + i}\n" in text
        text = text.replace(f"localhost:{9092 + i}\n", f"127.0.0.1:{ports[i]}\n")
        for shipped, port in zip((f"localhost:{9404 + i}\n", f"localhost:{9480 + i}\n"),
                                 http[i]):
            assert shipped in text
            text = text.replace(shipped, f"127.0.0.1:{port}\n")
        # A killed leader is replaced once its ZooKeeper session expires: 6 s, not 18.
        path.write_text(text + "zookeeper.session.timeout.ms=6000\n")
    return config, zk_port, ports, http


@pytest.fixture
def make_cluster(tmp_path, cluster_config):
    config, zk_port, ports, http = cluster_config
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKALITE_ZK_CONNECT", "KAFKALITE_ZK_PORT", "KAFKALITE_BROKER_PORT")}
    output = tmp_path / "cluster.out"
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kafkalite.cli.cluster", "--brokers", "3",
             "--config-dir", str(config), "--state-dir", str(state)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=tmp_path, start_new_session=True)
    recorded: dict[str, int] = {}

    def pids() -> dict[str, int]:
        for f in (state / "pids").glob("*.pid"):
            recorded[f.stem] = int(f.read_text())
        return dict(recorded)

    def text() -> str:
        return output.read_text(errors="replace")

    try:
        def up():
            assert proc.poll() is None, f"make cluster exited with {proc.returncode}:\n{text()}"
            return "cluster is up" in text()
        wait_for(up, 180, "make cluster to start ZooKeeper and three brokers")
        pids()
        yield proc, state, zk_port, ports, http, text, pids
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in pids().values():  # never leave a broker or ZooKeeper behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_make_cluster_runs_three_brokers_and_survives_a_leader_kill(make_cluster):
    proc, state, zk_port, ports, http, text, pids = make_cluster
    zk = f"127.0.0.1:{zk_port}"
    bootstrap = f"127.0.0.1:{ports[0]}"
    out = text()
    assert f"ZooKeeper listening on {zk}" in out
    for i, port in enumerate(ports):
        assert f"broker {i} listening on PLAINTEXT://127.0.0.1:{port}" in out, out
        metrics, console = http[i]
        assert f"  metrics  http://127.0.0.1:{metrics}/metrics\n" in out, out
        assert f"  console  http://127.0.0.1:{console}/\n" in out, out
        assert f"  logs     state/broker-{i}/logs/ (server.log, controller.log, " in out, out
    with urllib.request.urlopen(f"http://127.0.0.1:{http[0][0]}/metrics", timeout=10) as r:
        assert r.status == 200 and b"kafka_server_" in r.read()
    assert set(pids()) == {"zookeeper", "broker-0", "broker-1", "broker-2"}
    for i in range(3):  # each broker keeps its own data and log directories
        assert (state / f"broker-{i}" / "data" / "meta.properties").exists()
        assert f"[KafkaServer id={i}] started (kafka.server.KafkaServer)" in \
            (state / f"broker-{i}" / "logs" / "server.log").read_text()
    elected = [i for i in range(3) if "successfully elected as the controller" in
               (state / f"broker-{i}" / "logs" / "controller.log").read_text()]
    assert len(elected) == 1, elected

    # Six partitions, three replicas each: every broker is the preferred leader of two.
    rc, out, err = run_script("kafka-topics.sh", "--create", "--zookeeper", zk,
                              "--replication-factor", "3", "--partitions", "6",
                              "--topic", "spread")
    assert rc == 0, err
    assert out.strip() == "Created topic spread."

    def settled():
        rows = describe("--bootstrap-server", bootstrap, topic="spread")
        return len(rows) == 6 and all(len(r["Isr"].split(",")) == 3 for r in rows) and rows
    rows = wait_for(settled, 60, "six partitions with three in-sync replicas")
    for r in rows:
        assert sorted(r["Replicas"].split(",")) == ["0", "1", "2"], r
        assert r["Leader"] == r["Replicas"].split(",")[0], r  # the preferred replica leads
    assert Counter(r["Leader"] for r in rows) == {"0": 2, "1": 2, "2": 2}, rows
    def same(a, b):  # the ISR is a set; its order is not significant
        return [(r["Leader"], r["Replicas"], set(r["Isr"].split(","))) for r in a] == \
            [(r["Leader"], r["Replicas"], set(r["Isr"].split(","))) for r in b]
    assert same(describe("--zookeeper", zk, topic="spread"), rows)
    changes = (state / f"broker-{elected[0]}" / "logs" / "state-change.log").read_text()
    for p in range(6):
        assert f"Changed partition spread-{p} from NewPartition to OnlinePartition" in changes

    # Kafka's multi-broker quickstart: a replicated topic, some messages, kill the leader.
    rc, _, err = run_script("kafka-topics.sh", "--create", "--bootstrap-server", bootstrap,
                            "--replication-factor", "3", "--partitions", "1",
                            "--topic", "my-replicated-topic")
    assert rc == 0, err
    [row] = wait_for(lambda: (r := describe("--zookeeper", zk, topic="my-replicated-topic"))
                     and len(r[0]["Isr"].split(",")) == 3 and r, 60,
                     "my-replicated-topic fully replicated")
    messages = [f"my test message {i}" for i in range(1, 11)]
    rc, _, err = run_script("kafka-console-producer.sh", "--broker-list", bootstrap,
                            "--topic", "my-replicated-topic", "--producer-property", "acks=all",
                            input="\n".join(messages).encode() + b"\n")
    assert rc == 0, err

    leader = int(row["Leader"])
    os.kill(pids()[f"broker-{leader}"], signal.SIGKILL)
    wait_for(lambda: f"broker {leader} exited" in text(), 30, "the supervisor to notice")
    assert proc.poll() is None, "make cluster must keep the other brokers running"
    survivor = next(i for i in range(3) if i != leader)

    def failed_over():
        [r] = describe("--zookeeper", zk, topic="my-replicated-topic")
        return (r["Leader"] not in ("none", str(leader))
                and str(leader) not in r["Isr"].split(",") and r)
    row = wait_for(failed_over, 60, "a new leader without the killed broker in the ISR")
    assert sorted(row["Replicas"].split(",")) == ["0", "1", "2"]
    rc, out, err = run_script("kafka-console-consumer.sh", "--bootstrap-server",
                              f"127.0.0.1:{ports[survivor]}", "--from-beginning",
                              "--topic", "my-replicated-topic", "--max-messages", "10")
    assert rc == 0, err
    assert out.splitlines() == messages

    # Stopped by PID: the supervisor stops the brokers, then ZooKeeper, and leaves nothing.
    started = pids()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(90) == 0, text()
    assert not [name for name, pid in started.items() if alive(pid)], started
    assert not (state / "pids").exists()
    for i in range(3):
        if i != leader:
            assert (state / f"broker-{i}" / "data" / ".kafka_cleanshutdown").exists(), i
