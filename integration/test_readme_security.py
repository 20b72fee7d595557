"""The README's Security section, run as written: its openssl commands, its SASL_SSL
``server.properties`` lines, its kafka-configs/kafka-topics/kafka-acls commands, its kcat
lines and its confluent-kafka snippet, against a real ZooKeeper and broker.

Only what a reader would adapt is rewritten: ``localhost:2181`` becomes this test's ZooKeeper,
port 9093 a free port, ``scripts/`` and ``pki/`` absolute paths, and the broker is started by
the test (so it can be stopped by PID) instead of with ``-daemon``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from kafkalite.cli.cluster import REPO_ROOT, BrokerProcess, free_port
from kafkalite.security.jaas import parse_jaas_file
from kafkalite.security.zk_client import zk_auth
from kafkalite.testing.readme import readme_blocks
from kafkalite.zk.ops import ZkAuth

SCRIPTS = REPO_ROOT / "scripts"


def security_blocks() -> list[tuple[str, str]]:
    return readme_blocks("Security")


def test_readme_security_walkthrough(zookeeper, zk_connect, kazoo_client, tmp_path):
    blocks = security_blocks()
    assert [lang for lang, _ in blocks] == ["sh", "properties", "sh", "sh", "python",
                                            "properties", "sh", "", "sh"]
    (_, certs), (_, properties), (_, commands), (_, kcat), (_, python), (_, admin_props), \
        (_, admin_tool), (_, jaas), (_, export) = blocks
    port = free_port()

    def adapt(text: str) -> str:
        return (text.replace("localhost:2181", zk_connect).replace("localhost:9093",
                                                                    f"localhost:{port}")
                .replace("scripts/", f"{SCRIPTS}/"))

    def sh(script: str, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, **kw)
        assert r.returncode == 0, f"{script}\n{r.stdout}\n{r.stderr}"
        return r

    env = dict(os.environ, KAFKALITE_PYTHON=sys.executable)
    sh(certs)
    assert (tmp_path / "pki" / "broker-keystore.pem").exists()

    props = dict(line.split("=", 1) for line in adapt(properties).splitlines() if line)
    props = {k: v.replace("pki/", f"{tmp_path}/pki/") for k, v in props.items()}
    lines = [line for line in adapt(commands).splitlines() if line]
    start = [line for line in lines if "kafka-server-start.sh" in line]
    assert start == [f"{SCRIPTS}/kafka-server-start.sh -daemon config/server.properties"]
    before, after = lines[:lines.index(start[0])], lines[lines.index(start[0]) + 1:]
    sh("\n".join(before), env=env)

    broker = BrokerProcess(broker_id=0, zk_connect=zk_connect, workdir=tmp_path / "broker",
                           port=port, overrides={"offsets.topic.replication.factor": 1,
                                                 "group.initial.rebalance.delay.ms": 0,
                                                 "zookeeper.session.timeout.ms": 6000, **props})
    broker.start(wait=False)
    try:
        deadline = time.monotonic() + 60
        while kazoo_client.exists("/brokers/ids/0") is None or not _accepts(port):
            assert broker.proc.poll() is None, broker.log_tail()
            assert time.monotonic() < deadline, broker.log_tail()
            time.sleep(0.1)
        sh("\n".join(after), env=env)

        producer_line, consumer_line = adapt(kcat).splitlines()
        sh(producer_line)
        assert sh(consumer_line).stdout.strip() == "first order"

        check = adapt(python) + (
            "got = []\n"
            "for _ in range(60):\n"
            "    m = consumer.poll(1)\n"
            "    if m is not None and m.error() is None:\n"
            "        got.append(m.value().decode())\n"
            "    if 'second order' in got:\n"
            "        break\n"
            "consumer.close()\n"
            "print(got)\n")
        r = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "second order" in r.stdout, r.stdout + r.stderr

        # a tool with the README's client properties file
        (tmp_path / "admin.properties").write_text(admin_props)
        out = sh(adapt(admin_tool), env=env).stdout
        assert "Topic: orders" in out and "PartitionCount: 3" in out, out

        # bob logs in with PLAIN but has no ACLs: the authorizer refuses him.
        r = subprocess.run(["kcat", "-b", f"localhost:{port}", "-X", "security.protocol=SASL_SSL",
                            "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=bob", "-X",
                            "sasl.password=bob-secret", "-X", "ssl.ca.location=pki/ca.crt",
                            "-C", "-t", "orders", "-o", "beginning", "-e", "-m", "15"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "first order" not in r.stdout
        assert "authoriz" in r.stderr.lower(), r.stderr
    finally:
        broker.stop()

    (tmp_path / "kafka_jaas.conf").write_text(jaas)
    assert "Client" in parse_jaas_file(jaas)
    opts = export.splitlines()[0].split("=", 1)[1].strip('"').replace("$PWD", str(tmp_path))
    assert zk_auth({"KAFKA_OPTS": opts}, set_acl=True) == ZkAuth("kafka:kafka-zk-secret", True)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("localhost", port), timeout=1).close()
        return True
    except OSError:
        return False

