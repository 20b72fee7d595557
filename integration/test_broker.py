"""One real broker process against a real ZooKeeper: znodes, lifecycle, hostile input, crashes."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import threading
import time

import pytest

from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafkalite.protocol.messages.produce import (
    PartitionProduceData, ProduceRequest, ProduceResponse, TopicProduceData)
from kafkalite.records.builder import build_batch
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for


def _frame(api_key: int, version: int, body: bytes, correlation: int = 1) -> bytes:
    """A v1 request header built by hand, so unknown keys and versions can be sent too."""
    if api_key in (0, 3, 18, 22) and version <= 3:
        header = encode_request_header(RequestHeader(api_key, version, correlation, "it"))
    else:
        header = struct.pack(">hhih", api_key, version, correlation, 2) + b"it"
        if api_key == 18:  # ApiVersions v3+ always has a v2 header (KIP-511): empty tags
            header += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_frame(s: socket.socket) -> bytes:
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf[4:]


def _api_versions_ok(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(_frame(18, 0, encode(ApiVersionsRequest(), 0)))
        resp = decode(ApiVersionsResponse, 0, _read_frame(s)[4:])
        return resp.error_code == 0 and any(k.api_key == 0 for k in resp.api_keys)


def _closed_by_peer(s: socket.socket, timeout: float = 10) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def test_znodes_have_kafkas_json_shapes(broker, kazoo_client):
    create_topic(broker.bootstrap, "test")
    zk = kazoo_client

    data, stat = zk.get("/brokers/ids/0")
    reg = json.loads(data)
    assert stat.ephemeralOwner != 0
    assert reg["version"] in (4, 5)
    assert reg["host"] == "127.0.0.1" and reg["port"] == broker.port
    assert reg["jmx_port"] == -1 and isinstance(reg["timestamp"], str)
    assert reg["endpoints"] == [f"PLAINTEXT://127.0.0.1:{broker.port}"]
    assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}

    topic = json.loads(zk.get("/brokers/topics/test")[0])
    assert topic["partitions"] == {"0": [0]}
    assert topic["version"] in (1, 2, 3)
    if topic["version"] >= 2:
        assert topic["adding_replicas"] == {} and topic["removing_replicas"] == {}

    state = json.loads(zk.get("/brokers/topics/test/partitions/0/state")[0])
    assert state == {"controller_epoch": state["controller_epoch"], "leader": 0, "version": 1,
                     "leader_epoch": 0, "isr": [0]}
    assert state["controller_epoch"] >= 1

    controller, cstat = zk.get("/controller")
    c = json.loads(controller)
    assert c["version"] == 1 and c["brokerid"] == 0 and isinstance(c["timestamp"], str)
    assert cstat.ephemeralOwner == stat.ephemeralOwner
    assert int(zk.get("/controller_epoch")[0]) == state["controller_epoch"]

    cluster = json.loads(zk.get("/cluster/id")[0])
    assert cluster["version"] == "1" and len(cluster["id"]) == 22
    assert json.loads(zk.get("/config/topics/test")[0]) == {"version": 1, "config": {}}
    for path in ("/consumers", "/brokers/seqid", "/config/changes", "/admin/delete_topics",
                 "/isr_change_notification", "/latest_producer_id_block"):
        assert zk.exists(path), path
    meta = (broker.log_dir / "meta.properties").read_text()
    assert "broker.id=0" in meta and f"cluster.id={cluster['id']}" in meta


def test_second_broker_with_same_id_refuses_to_start(broker, broker_factory):
    with pytest.raises(RuntimeError) as exc:
        broker_factory(0, props={"zookeeper.session.timeout.ms": 6000})
    assert "/brokers/ids/0" in str(exc.value)
    assert _api_versions_ok(broker.bootstrap)


def test_reregisters_after_session_expiry(broker_factory, kazoo_client):
    b = broker_factory(0, props={"zookeeper.session.timeout.ms": 2000})
    _, stat = kazoo_client.get("/brokers/ids/0")
    old_owner = stat.ephemeralOwner
    os.kill(b.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: kazoo_client.exists("/brokers/ids/0") is None, 30,
                 "the ephemeral to vanish")
    finally:
        os.kill(b.pid, signal.SIGCONT)
    stat = wait_for(lambda: kazoo_client.exists("/brokers/ids/0"), 30, "re-registration")
    assert stat.ephemeralOwner != old_owner
    wait_for(lambda: kazoo_client.exists("/controller"), 30, "a controller")
    assert json.loads(kazoo_client.get("/controller")[0])["brokerid"] == 0
    b.wait_ready(30)


def test_hostile_connections_are_closed_and_others_served(broker_factory):
    b = broker_factory(0, props={"socket.request.max.bytes": 10000})
    host, port = "127.0.0.1", b.port
    healthy = socket.create_connection((host, port), timeout=10)
    cases = {
        "oversized frame": struct.pack(">i", 10001) + b"\0" * 100,
        "negative size": struct.pack(">i", -5),
        "http request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "unknown api key": _frame(9999, 0, b""),
        "unsupported version": _frame(0, 99, b"\0" * 20),
        "truncated body": _frame(3, 1, b"\x00\x00\x03\xe8\x00"),
    }
    for name, data in cases.items():
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(data)
            assert _closed_by_peer(s), name
    healthy.sendall(_frame(18, 0, encode(ApiVersionsRequest(), 0)))
    assert decode(ApiVersionsResponse, 0, _read_frame(healthy)[4:]).error_code == 0
    healthy.close()
    # ApiVersions above our range: answered (KIP-511), v0 body with error 35.
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(_frame(18, 77, b""))
        resp = decode(ApiVersionsResponse, 0, _read_frame(s)[4:])
        assert resp.error_code == 35 and any(k.api_key == 18 for k in resp.api_keys)
    assert _api_versions_ok(b.bootstrap)


def _produce(s: socket.socket, topic: str, batch: bytes, correlation: int, acks: int = 1):
    req = ProduceRequest(transactional_id=None, acks=acks, timeout_ms=10000, topic_data=[
        TopicProduceData(name=topic, partition_data=[PartitionProduceData(index=0,
                                                                           records=batch)])])
    s.sendall(_frame(0, 8, encode(req, 8), correlation))
    frame = _read_frame(s)
    resp = decode(ProduceResponse, 8, frame[4:])
    return resp.responses[0].partition_responses[0]


def test_idempotent_retry_is_acknowledged_with_original_offset(broker):
    from kafkalite.protocol.messages.init_producer_id import (
        InitProducerIdRequest, InitProducerIdResponse)

    create_topic(broker.bootstrap, "idem")
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        s.sendall(_frame(22, 1, encode(InitProducerIdRequest(transactional_id=None,
                                                             transaction_timeout_ms=-1), 1)))
        pid = decode(InitProducerIdResponse, 1, _read_frame(s)[4:]).producer_id
        assert pid >= 0
        now = int(time.time() * 1000)
        first = build_batch([(b"k", b"v0", [], now), (b"k", b"v1", [], now)], producer_id=pid,
                            producer_epoch=0, base_sequence=0)
        second = build_batch([(b"k", b"v2", [], now)], producer_id=pid, producer_epoch=0,
                             base_sequence=2)
        r1 = _produce(s, "idem", first, 2)
        r2 = _produce(s, "idem", second, 3)
        again = _produce(s, "idem", first, 4)  # a retry of an already-written batch
        assert (r1.error_code, r2.error_code, again.error_code) == (0, 0, 0)
        assert (r1.base_offset, r2.base_offset, again.base_offset) == (0, 2, 0)
        gap = build_batch([(b"k", b"v9", [], now)], producer_id=pid, producer_epoch=0,
                          base_sequence=9)
        assert _produce(s, "idem", gap, 5).error_code == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
        corrupt = bytearray(second)
        corrupt[-1] ^= 0xFF
        assert _produce(s, "idem", bytes(corrupt), 6).error_code == 2  # CORRUPT_MESSAGE
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    c.assign([TopicPartition("idem", 0)])
    c.seek_to_beginning()
    values = []
    deadline = time.monotonic() + 30
    while len(values) < 3 and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            values += [r.value for r in recs]
    c.close()
    assert values == [b"v0", b"v1", b"v2"]


def test_sigkill_during_acks1_produce_keeps_every_acked_message(broker):
    """Kill -9 the broker mid-stream; after a restart every acknowledged message is there."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    create_topic(broker.bootstrap, "crash")
    acked: dict[int, bytes] = {}
    stop = threading.Event()

    def produce():
        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 2,
                      "message.timeout.ms": 5000, "retries": 0})

        def cb(err, msg):
            if err is None:
                acked[msg.offset()] = msg.value()
        i = 0
        while not stop.is_set():
            try:
                p.produce("crash", f"m-{i}".encode() * 10, on_delivery=cb)
                i += 1
            except BufferError:
                pass
            p.poll(0.0005 if i % 100 == 0 else 0)
        p.flush(10)

    t = threading.Thread(target=produce)
    t.start()
    wait_for(lambda: len(acked) > 20000, 60, "20000 acks")
    broker.kill()
    stop.set()
    t.join(30)
    n_acked = len(acked)
    broker.start()
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "crash-check",
                  "enable.auto.commit": False})
    c.assign([TopicPartition("crash", 0, 0)])
    got = {}
    idle = 0
    while idle < 10:
        msgs = c.consume(10000, timeout=1.0)
        idle = 0 if msgs else idle + 1
        for m in msgs:
            assert m.error() is None
            got[m.offset()] = m.value()
    c.close()
    missing = [o for o in acked if got.get(o) != acked[o]]
    assert not missing, f"{len(missing)} of {n_acked} acked messages lost, e.g. {missing[:5]}"
    assert sorted(got) == list(range(len(got)))


@pytest.mark.parametrize("enabled", [True, False])
def test_auto_create_topics(broker_factory, enabled):
    from confluent_kafka import KafkaError, Producer

    b = broker_factory(0, props={"auto.create.topics.enable": str(enabled).lower(),
                                 "num.partitions": 2})
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 5000})
    results = []
    p.produce("auto-topic", b"hello", on_delivery=lambda err, msg: results.append(err))
    p.flush(15)
    assert len(results) == 1
    if enabled:
        assert results[0] is None
        md = p.list_topics("auto-topic", timeout=10)
        assert sorted(md.topics["auto-topic"].partitions) == [0, 1]
    else:
        assert results[0] is not None
        t = p.list_topics("auto-topic", timeout=10).topics["auto-topic"]
        assert t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
        assert not t.partitions
