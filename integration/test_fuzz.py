"""Protocol fuzzing of a real broker: a short ``kafkalite.cli.fuzz`` run (what ``make fuzz``
does at length), and the requests earlier runs found mishandled, each answered with a Kafka
error code instead of a logged traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from kafkalite.protocol.framing import ClientConnection
from kafkalite.protocol.messages.create_partitions import (
    CreatePartitionsRequest, CreatePartitionsTopic)
from kafkalite.protocol.messages.create_topics import CreatableTopic, CreateTopicsRequest
from kafkalite.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest, UserName)
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic)
from kafkalite.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestTopic
from kafkalite.testing.clients import create_topic


def test_short_fuzz_run_leaves_the_broker_alive_and_clean(zookeeper, tmp_path):
    out = tmp_path / "fuzz"
    env = dict(os.environ, KAFKALITE_ZK_CONNECT=zookeeper.hosts)
    proc = subprocess.run([sys.executable, "-m", "kafkalite.cli.fuzz", "--frames", "5000",
                           "--outdir", str(out), "--seed", "20240607", "--workers", "6"],
                          env=env, capture_output=True, text=True, timeout=300)
    report = json.loads((out / "fuzz.json").read_text())
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-3000:], report.get("crashes"))
    assert report["frames"] == 5000 and report["connections"] > 300
    assert set(report["by_kind"]) >= {"valid", "field", "bytes", "truncated", "random",
                                      "version", "oversize"}
    assert report["broker_alive"] is True
    assert report["crashes"] == []
    assert report["rss_growth_mb"] < 100
    assert report["healthy"]["acked_measured"] > 100 and not report["healthy"]["errors"]
    assert "broker alive       yes" in proc.stdout


def _call(bootstrap: str, request, version: int):
    host, port = bootstrap.rsplit(":", 1)
    conn = ClientConnection(client_id="regression")
    _, data = conn.send_request(request, version)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            assert chunk, "the broker closed the connection"
            responses = conn.receive_data(chunk)
            if responses:
                return responses[0][1]


def test_requests_fuzzing_found_get_kafka_errors(broker):
    create_topic(broker.bootstrap, "known")
    long_name = "x" * 32767

    # OffsetFetch/OffsetCommit v0 store in ZooKeeper: ".." makes no path
    fetched = _call(broker.bootstrap, OffsetFetchRequest(group_id="..", topics=(
        OffsetFetchRequestTopic(name="known", partition_indexes=(0,)),
        OffsetFetchRequestTopic(name="unknown", partition_indexes=(0,)))), 0)
    codes = {t.name: t.partitions[0].error_code for t in fetched.topics}
    assert codes == {"known": -1, "unknown": 3}   # UNKNOWN_SERVER_ERROR, as Kafka; UNKNOWN_TOPIC
    committed = _call(broker.bootstrap, OffsetCommitRequest(group_id="a/../..", topics=(
        OffsetCommitRequestTopic(name="known", partitions=(
            OffsetCommitRequestPartition(partition_index=0, committed_offset=5),)),)), 0)
    assert committed.topics[0].partitions[0].error_code == -1

    # CreatePartitions of topics that cannot exist, including one whose error message would
    # not fit a STRING; and an absurd count for a real topic
    created = _call(broker.bootstrap, CreatePartitionsRequest(topics=(
        CreatePartitionsTopic(name="..", count=2, assignments=None),
        CreatePartitionsTopic(name=long_name, count=2, assignments=None),
        CreatePartitionsTopic(name="known", count=2**31 - 1, assignments=None)),
        timeout_ms=5000, validate_only=False), 1)
    results = {r.name: (r.error_code, r.error_message) for r in created.results}
    assert results[".."][0] == 3 and results[long_name][0] == 3
    assert len(results[long_name][1].encode()) <= 32767
    assert results["known"][0] == 37 and "too large" in results["known"][1]   # INVALID_PARTITIONS

    # CreateTopics with 2**31 - 1 partitions: refused at once, not built in memory
    topics = _call(broker.bootstrap, CreateTopicsRequest(topics=(CreatableTopic(
        name="huge", num_partitions=2**31 - 1, replication_factor=1),), timeout_ms=5000), 2)
    assert topics.topics[0].error_code == 37

    # SCRAM users "." and ".." cannot be stored in ZooKeeper
    described = _call(broker.bootstrap, DescribeUserScramCredentialsRequest(users=(
        UserName(name="."), UserName(name=".."))), 0)
    assert [(r.user, r.error_code) for r in described.results] == [(".", 91), ("..", 91)]

    log = broker.server_log() + broker.log_tail(400)
    assert "Traceback" not in log, log[-4000:]
