"""LinkedIn's Burrow (Debian package ``burrow``, 1.2.1) monitors kafkalite consumer groups.

Burrow's ``kafka`` consumer module reads ``__consumer_offsets`` itself (sarama: Metadata v5,
ListOffsets v1, Fetch v4) and decodes every record with its own copy of Kafka's key/value
schemas; its ``kafka_zk`` module reads the legacy ``/consumers/<g>/offsets`` nodes. Both are
checked through Burrow's debug log ("consumer offset" lines): that is Burrow accepting the
bytes a kafkalite broker wrote as Kafka's.

Burrow's lag (HTTP ``/v3/kafka/<cluster>/consumer/<group>/lag``) additionally needs its
``kafka`` *cluster* module's log end offsets, and Burrow 1.2.1 asks for those with
**ListOffsets v0** (sarama's OffsetRequest without a version; newer Burrow sets v1). Without
v0 the broker closes that connection (wire-protocol.md §1), Burrow logs "failed to fetch
offsets from broker ... EOF" and its storage drops every consumer offset ("dropped ... reason:
no topic"), so no group ever gets a lag: the test checks v0 is advertised first to say so.

Burrow runs as a subprocess with a generated ``burrow.toml`` on loopback ports and is stopped
by its PID. The broker uses a one-partition ``__consumer_offsets`` so Burrow starts quickly
(it opens a partition consumer per partition, a quarter second each).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import trio

from kafkalite.testing.clients import create_topic
from kafkalite.zk.launcher import free_port

BURROW = shutil.which("Burrow") or shutil.which("burrow")


def _config(zk_hosts: str, chroot: str, bootstrap: str, http_port: int, zk_connect: str) -> str:
    servers = json.dumps([bootstrap])
    return f"""
[general]
pidfile="burrow.pid"
stdout-logfile="burrow.out"

[logging]
level="debug"

[zookeeper]
servers={json.dumps(zk_hosts.split(","))}
timeout=6
root-path="{chroot}/burrow"

[client-profile.kafkalite]
client-id="burrow-test"
kafka-version="2.0.0"

[cluster.local]
class-name="kafka"
servers={servers}
client-profile="kafkalite"
topic-refresh=2
offset-refresh=1

[consumer.local]
class-name="kafka"
cluster="local"
servers={servers}
client-profile="kafkalite"
offsets-topic="__consumer_offsets"
start-latest=false

[consumer.local_zk]
class-name="kafka_zk"
cluster="local"
servers={json.dumps(zk_hosts.split(","))}
zookeeper-path="{chroot}"
zookeeper-timeout=6

[httpserver.default]
address="127.0.0.1:{http_port}"

[storage.default]
class-name="inmemory"
workers=4
intervals=10
expire-group=604800
min-distance=1
"""


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
        return None


@pytest.fixture
def burrow_factory(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(config: str) -> subprocess.Popen:
        if BURROW is None:
            pytest.fail("Burrow is not installed: run 'apt-get install -y burrow'")
        (tmp_path / "burrow.toml").write_text(config)
        log = open(tmp_path / "burrow.log", "wb")
        proc = subprocess.Popen([BURROW, "--config-dir", str(tmp_path)], cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _commit_with_lag(bootstrap: str) -> None:
    """A kafkalite group consumer reads 4 of 10 records of partition 0 (and nothing of
    partition 1, which has 5) and commits: lag 6 + 5 = 11."""
    from confluent_kafka import Producer

    from kafkalite.client.cluster import Cluster
    from kafkalite.client.consumer import Consumer

    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        p.produce("watched", value=b"%d" % i, partition=0)
    for i in range(5):
        p.produce("watched", value=b"%d" % i, partition=1)
    assert p.flush(30) == 0

    async def main():
        async with Cluster(bootstrap) as cluster:
            consumer = Consumer(cluster, group_id="monitored", auto_offset_reset="earliest",
                                enable_auto_commit=False, max_poll_records=4)
            consumer.assign([("watched", 0)])
            with trio.fail_after(30):
                got = []
                while len(got) < 4:
                    got += await consumer.poll(500)
            await consumer.commit({("watched", 0): 4, ("watched", 1): 0})
            await consumer.aclose()

    trio.run(main)


def _list_offsets_v0_supported(bootstrap: str) -> bool:
    from kafkalite.client.connection import BrokerConnection
    from kafkalite.protocol.api_keys import ApiKey

    async def main():
        host, port = bootstrap.rsplit(":", 1)
        connection = await BrokerConnection.open(host, int(port))
        try:
            return connection.api_versions[ApiKey.LIST_OFFSETS][0] == 0
        finally:
            await connection.aclose()

    return trio.run(main)


def _decoded_offsets(log_path) -> dict[tuple[str, str, str, int], int]:
    """(module class, group, topic, partition) -> offset from Burrow's "consumer offset" lines."""
    out: dict = {}
    if not log_path.exists():
        return out
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("msg") == "consumer offset" and "group" in entry:
            out[(entry["class"], entry["group"], entry["topic"], entry["partition"])] = \
                entry["offset"]
    return out


def test_burrow_reads_kafkalite_offsets_and_reports_lag(broker_factory, zookeeper, zk_chroot,
                                                        zk_connect, kazoo_client,
                                                        burrow_factory, tmp_path):
    broker = broker_factory(0, props={"offsets.topic.num.partitions": 1})
    bootstrap = broker.bootstrap
    create_topic(bootstrap, "watched", partitions=2)
    _commit_with_lag(bootstrap)
    kazoo_client.ensure_path("/consumers/legacy-app/offsets/watched")
    kazoo_client.create("/consumers/legacy-app/offsets/watched/0", b"7")
    kazoo_client.create("/consumers/legacy-app/offsets/watched/1", b"5")

    http = free_port()
    proc = burrow_factory(_config(zookeeper.hosts, zk_chroot, bootstrap, http, zk_connect))
    base = f"http://127.0.0.1:{http}/v3/kafka/local"
    expected = {("kafka", "monitored", "watched", 0): 4, ("kafka", "monitored", "watched", 1): 0,
                ("kafka_zk", "legacy-app", "watched", 0): 7,
                ("kafka_zk", "legacy-app", "watched", 1): 5}

    deadline = time.monotonic() + 30
    decoded: dict = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, "Burrow exited; see burrow.out in the test's tmp dir"
        decoded = _decoded_offsets(tmp_path / "burrow.out")
        if all(decoded.get(k) == v for k, v in expected.items()):
            break
        time.sleep(0.5)
    assert {k: decoded.get(k) for k in expected} == expected, \
        "Burrow did not decode the group's offsets (see burrow.out)"

    def lag(group: str) -> dict | None:
        body = _get(f"{base}/consumer/{group}/lag")
        if not body or body.get("error"):
            return None
        status = body["status"]
        partitions = status.get("partitions") or []
        if status.get("totallag") is None or len(partitions) < 2 or any(
                (p.get("end") or {}).get("offset") is None for p in partitions):
            return None
        return status

    assert _list_offsets_v0_supported(bootstrap), \
        "Burrow 1.2.1 fetches log end offsets with ListOffsets v0, which the broker must offer"
    deadline = time.monotonic() + 30
    status = legacy = None
    while time.monotonic() < deadline and not (status and legacy):
        status = status or lag("monitored")
        legacy = legacy or lag("legacy-app")
        time.sleep(0.5)
    assert status is not None, "Burrow never reported the lag of group 'monitored'"
    assert status["totallag"] == 11
    by_partition = {p["partition"]: p for p in status["partitions"]}
    assert by_partition[0]["end"]["offset"] == 4 and by_partition[0]["current_lag"] == 6
    assert by_partition[1]["end"]["offset"] == 0 and by_partition[1]["current_lag"] == 5
    assert legacy is not None and legacy["totallag"] == 3
    topic = _get(f"{base}/topic/watched")
    assert topic and topic["offsets"] == [10, 5]
