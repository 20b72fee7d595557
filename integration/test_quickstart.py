"""Kafka's quickstart, typed as a user would, with our scripts.

Start ZooKeeper from a zookeeper.properties, start the broker from config/server.properties,
create and describe a topic through ``--zookeeper``, pipe lines into the console producer and
read them back with the console consumer. Ports are free loopback ports instead of 2181/9092
so the test can run next to anything else; everything is stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kafkalite.cli.cluster import REPO_ROOT, broker_ready, free_port
from kafkalite.zk.launcher import srvr

SCRIPTS = REPO_ROOT / "scripts"


def run(args, *, input=None, timeout=60, env=None):
    return subprocess.run([str(SCRIPTS / args[0]), *args[1:]], input=input,
                          capture_output=True, timeout=timeout, env=env)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def script_env(tmp_path):
    return dict(os.environ, KAFKALITE_PYTHON=sys.executable,
                KAFKALITE_RUN_DIR=str(tmp_path / "run"), LOG_DIR=str(tmp_path / "logs"))


@pytest.fixture
def zookeeper_from_script(tmp_path, script_env):
    port = free_port()
    props = tmp_path / "zookeeper.properties"
    text = (REPO_ROOT / "config" / "zookeeper.properties").read_text()
    text = text.replace("dataDir=/tmp/zookeeper", f"dataDir={tmp_path / 'zk-data'}")
    text = text.replace("clientPort=2181", f"clientPort={port}\nclientPortAddress=127.0.0.1")
    props.write_text(text)
    log = open(tmp_path / "zookeeper.log", "wb")
    proc = subprocess.Popen([str(SCRIPTS / "zookeeper-server-start.sh"), str(props)],
                            stdout=log, stderr=subprocess.STDOUT, env=script_env,
                            start_new_session=True)
    try:
        wait_for(lambda: b"Mode: " in (srvr("127.0.0.1", port) or b""), 60, "ZooKeeper")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_quickstart_as_typed(tmp_path, zookeeper_from_script, script_env):
    zk_port = zookeeper_from_script
    broker_port = free_port()
    log = open(tmp_path / "broker.log", "wb")
    broker = subprocess.Popen(
        [str(SCRIPTS / "kafka-server-start.sh"), str(REPO_ROOT / "config" / "server.properties"),
         "--override", f"zookeeper.connect=localhost:{zk_port}",
         "--override", f"listeners=PLAINTEXT://localhost:{broker_port}",
         "--override", f"log.dirs={tmp_path / 'kafka-logs'}",
         "--override", f"metrics.listener=http://localhost:{free_port()}",
         "--override", f"console.listener=http://localhost:{free_port()}"],
        stdout=log, stderr=subprocess.STDOUT, env=script_env, start_new_session=True)
    try:
        wait_for(lambda: broker_ready("localhost", broker_port, 0), 60, "the broker")

        r = run(["kafka-topics.sh", "--create", "--zookeeper", f"localhost:{zk_port}",
                 "--replication-factor", "1", "--partitions", "1", "--topic", "test"],
                env=script_env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().strip() == "Created topic test."

        r = run(["kafka-topics.sh", "--list", "--zookeeper", f"localhost:{zk_port}"],
                env=script_env)
        assert r.stdout.decode().split() == ["test"]

        def described():
            out = run(["kafka-topics.sh", "--describe", "--zookeeper", f"localhost:{zk_port}",
                       "--topic", "test"], env=script_env).stdout.decode()
            return "Leader: 0" in out and out
        wait_for(described, 30, "a leader for test-0")
        lines = described().splitlines()
        assert lines[0].startswith("Topic: test\tPartitionCount: 1\tReplicationFactor: 1\t"
                                   "Configs: ")
        assert lines[1] == "\tTopic: test\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0"

        messages = [f"This is message {i}" for i in range(1, 21)]
        r = run(["kafka-console-producer.sh", "--broker-list", f"localhost:{broker_port}",
                 "--topic", "test"], input="\n".join(messages).encode() + b"\n",
                env=script_env)
        assert r.returncode == 0, r.stderr

        r = run(["kafka-console-consumer.sh", "--bootstrap-server", f"localhost:{broker_port}",
                 "--topic", "test", "--from-beginning", "--max-messages", "20"],
                env=script_env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().splitlines() == messages
        assert "Processed a total of 20 messages" in r.stderr.decode()

        # kafka-server-stop.sh finds the broker by its recorded PID and stops it cleanly.
        r = run(["kafka-server-stop.sh"], env=script_env)
        assert r.returncode == 0, r.stderr
        assert broker.wait(30) == 0
        assert (tmp_path / "kafka-logs" / ".kafka_cleanshutdown").exists()
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait()
        log.close()


def test_tools_fail_with_one_line_errors(tmp_path, script_env):
    dead = f"127.0.0.1:{free_port()}"
    cases = [
        ["kafka-topics.sh", "--list", "--bootstrap-server", dead],
        ["kafka-topics.sh", "--list", "--zookeeper", dead],
        ["kafka-topics.sh", "--create", "--topic", "x"],
        ["kafka-console-consumer.sh", "--bootstrap-server", dead, "--topic", "t",
         "--max-messages", "1"],
        ["kafka-console-producer.sh", "--topic", "t"],
        ["kafka-server-start.sh", str(tmp_path / "missing.properties")],
    ]
    for args in cases:
        r = run(args, input=b"x\n", env=script_env, timeout=90)
        err = r.stderr.decode()
        assert r.returncode != 0, (args, err)
        assert "Traceback" not in err, (args, err)
        assert err.strip(), args
