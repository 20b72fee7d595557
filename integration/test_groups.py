"""Consumer groups against a real broker process: real clients, raw protocol, ZooKeeper.

Acceptance of issue #5 (broker side). For librdkafka (eager and cooperative-sticky),
kafka-python, aiokafka and kafkajs: three consumer *processes* in one group share a
6-partition topic two partitions each; one is SIGKILLed (it cannot leave the group), its
partitions move to the others once its session times out, everything produced is consumed,
and a message is delivered twice only if no commit had covered it (see ``check_delivery``).

Consumers print JSON lines (``assign`` / ``msg`` / ``commit``); reader threads number the
lines in arrival order. Waits are liveness bounds that fail with diagnostics, never timing
assertions. The raw-protocol tests drive every advertised version of the group APIs and the
legacy ZooKeeper offsets of OffsetCommit/OffsetFetch v0.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kafkalite.coordinator.offsets_topic import (
    GroupMetadataKey, OffsetKey, decode_group_value, decode_key, decode_offset_value,
    partition_for)
from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import (
    RequestHeader, encode_request_header, response_header_version)
from kafkalite.protocol.messages import (
    delete_groups, describe_groups, find_coordinator, heartbeat, join_group, leave_group,
    list_groups, offset_commit, offset_delete, offset_fetch, sync_group)
from kafkalite.protocol.messages.join_group import JoinGroupRequestProtocol
from kafkalite.protocol.messages.leave_group import MemberIdentity
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitRequestPartition, OffsetCommitRequestTopic)
from kafkalite.protocol.messages.offset_delete import (
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic)
from kafkalite.protocol.messages.offset_fetch import OffsetFetchRequestTopic
from kafkalite.protocol.messages.sync_group import SyncGroupRequestAssignment
from kafkalite.protocol.primitives import read_uvarint
from kafkalite.testing.clients import create_topic

PARTITIONS = 6
PER_PHASE = 20  # messages per partition per phase
LIVENESS_S = 90

# -- consumer programs (one process each) -------------------------------------------------

RDKAFKA = r"""
import json, signal, sys
from confluent_kafka import Consumer, KafkaException, TopicPartition
bootstrap, topic, group, strategy, every = sys.argv[1:6]
every = int(every)
def out(**kw): print(json.dumps(kw), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "rdk",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
              "partition.assignment.strategy": strategy})
pending = {}
def commit(parts=None):
    offs = [TopicPartition(topic, p, o) for p, o in pending.items() if parts is None or p in parts]
    if not offs:
        return
    try:
        res = c.commit(offsets=offs, asynchronous=False)
    except KafkaException as e:
        out(ev="commit_failed", err=str(e)); return
    for tp in res:
        if tp.error is None:
            out(ev="commit", p=tp.partition, o=tp.offset)
            if pending.get(tp.partition) == tp.offset:
                del pending[tp.partition]
def on_revoke(consumer, parts):
    gone = {tp.partition for tp in parts}
    commit(gone)
    for p in gone:
        pending.pop(p, None)
c.subscribe([topic], on_revoke=on_revoke)
last, n = None, 0
while not stop:
    m = c.poll(0.2)
    a = sorted(tp.partition for tp in c.assignment())
    if a != last:
        out(ev="assign", parts=a); last = a
    if m is None or m.error():
        continue
    out(ev="msg", p=m.partition(), o=m.offset())
    pending[m.partition()] = m.offset() + 1
    n += 1
    if n % every == 0:
        commit()
commit()
c.close()
"""

KAFKA_PYTHON = r"""
import json, signal, sys
from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
bootstrap, topic, group, _strategy, every = sys.argv[1:6]
every = int(every)
def out(**kw): print(json.dumps(kw), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="kp",
                  auto_offset_reset="earliest", enable_auto_commit=False,
                  session_timeout_ms=6000, heartbeat_interval_ms=1000)
pending = {}
def commit(parts=None):
    offs = {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1)
            for p, o in pending.items() if parts is None or p in parts}
    if not offs:
        return
    try:
        c.commit(offs)
    except Exception as e:
        out(ev="commit_failed", err=repr(e)); return
    for tp, om in offs.items():
        out(ev="commit", p=tp.partition, o=om.offset)
        if pending.get(tp.partition) == om.offset:
            del pending[tp.partition]
class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        gone = {tp.partition for tp in revoked}
        commit(gone)
        for p in gone:
            pending.pop(p, None)
    def on_partitions_assigned(self, assigned):
        pass
c.subscribe([topic], listener=Listener())
last, n = None, 0
while not stop:
    recs = c.poll(timeout_ms=200)
    a = sorted(tp.partition for tp in c.assignment())
    if a != last:
        out(ev="assign", parts=a); last = a
    for _tp, msgs in recs.items():
        for m in msgs:
            out(ev="msg", p=m.partition, o=m.offset)
            pending[m.partition] = m.offset + 1
            n += 1
            if n % every == 0:
                commit()
commit()
c.close(autocommit=False)
"""

AIOKAFKA = r"""
import asyncio, json, signal, sys
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
bootstrap, topic, group, _strategy, every = sys.argv[1:6]
every = int(every)
def out(**kw): print(json.dumps(kw), flush=True)
async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="aio",
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         session_timeout_ms=6000, heartbeat_interval_ms=1000)
    pending = {}
    async def commit(parts=None):
        offs = {TopicPartition(topic, p): o for p, o in pending.items()
                if parts is None or p in parts}
        if not offs:
            return
        try:
            await c.commit(offs)
        except Exception as e:
            out(ev="commit_failed", err=repr(e)); return
        for tp, o in offs.items():
            out(ev="commit", p=tp.partition, o=o)
            if pending.get(tp.partition) == o:
                del pending[tp.partition]
    class Listener(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            gone = {tp.partition for tp in revoked}
            await commit(gone)
            for p in gone:
                pending.pop(p, None)
        async def on_partitions_assigned(self, assigned):
            pass
    c.subscribe([topic], listener=Listener())
    await c.start()
    last, n = None, 0
    while not stop.is_set():
        recs = await c.getmany(timeout_ms=200)
        a = sorted(tp.partition for tp in c.assignment())
        if a != last:
            out(ev="assign", parts=a); last = a
        for _tp, msgs in recs.items():
            for m in msgs:
                out(ev="msg", p=m.partition, o=m.offset)
                pending[m.partition] = m.offset + 1
                n += 1
                if n % every == 0:
                    await commit()
    await commit()
    await c.stop()
asyncio.run(main())
"""

KAFKAJS = r"""
const { Kafka, logLevel } = require('kafkajs');
const [bootstrap, topic, group, _strategy, everyArg] = process.argv.slice(2);
const every = Number(everyArg);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const kafka = new Kafka({ clientId: 'kjs', brokers: [bootstrap], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 1000,
                                  maxWaitTimeInMs: 500 });
const pending = new Map();
let n = 0;
async function commit() {
  const offs = [...pending.entries()];
  if (offs.length === 0) return;
  try {
    await consumer.commitOffsets(
      offs.map(([p, o]) => ({ topic, partition: p, offset: String(o) })));
  } catch (e) { out({ ev: 'commit_failed', err: String(e) }); return; }
  for (const [p, o] of offs) {
    out({ ev: 'commit', p, o });
    if (pending.get(p) === o) pending.delete(p);
  }
}
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  pending.clear();
  const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b);
  out({ ev: 'assign', parts });
});
process.on('SIGTERM', async () => {
  await commit(); await consumer.disconnect(); process.exit(0);
});
(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => {
    const o = Number(message.offset);
    out({ ev: 'msg', p: partition, o });
    pending.set(partition, o + 1);
    n += 1;
    if (n % every === 0) await commit();
  } });
})().catch((e) => { out({ ev: 'fatal', err: String(e) }); process.exit(1); });
"""


class Events:
    """Lines of all consumers, numbered in arrival order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[tuple[int, int, dict]] = []  # (seq, consumer index, event)

    def add(self, idx: int, ev: dict) -> None:
        with self.lock:
            self.items.append((len(self.items), idx, ev))

    def snapshot(self) -> list[tuple[int, int, dict]]:
        with self.lock:
            return list(self.items)


class ConsumerProc:
    def __init__(self, idx: int, argv: list[str], events: Events, cwd: Path | None = None):
        self.idx = idx
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, cwd=cwd, text=True)
        self.stderr: list[str] = []
        self.events = events
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                self.events.add(self.idx, json.loads(line))

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def assignment(self) -> list[int] | None:
        last = None
        for _, idx, ev in self.events.snapshot():
            if idx == self.idx and ev["ev"] == "assign":
                last = ev["parts"]
        return last

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no LeaveGroup, no final commit
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until(cond, what: str, diagnostics) -> None:
    deadline = time.monotonic() + LIVENESS_S
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {LIVENESS_S}s: {what}\n{diagnostics()}")
        time.sleep(0.1)


def produce_phase(bootstrap: str, topic: str, phase: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(PER_PHASE):
        for part in range(PARTITIONS):
            p.produce(topic, f"{phase}-{part}-{i}".encode(), partition=part)
    assert p.flush(60) == 0


def check_delivery(events: list, produced: int) -> dict:
    """Everything consumed; a redelivery of (p, o) only at or after the highest commit for p
    reported before it (a commit covering o would have prevented it)."""
    committed: dict[int, int] = {}
    seen: set[tuple[int, int]] = set()
    duplicates = []
    for _seq, idx, ev in events:
        if ev["ev"] == "commit":
            committed[ev["p"]] = max(committed.get(ev["p"], 0), ev["o"])
        elif ev["ev"] == "msg":
            key = (ev["p"], ev["o"])
            if key in seen:
                duplicates.append((idx, key))
                assert ev["o"] >= committed.get(ev["p"], 0), (
                    f"consumer {idx} got {key} again although offset {committed[ev['p']]} "
                    f"was committed before")
            seen.add(key)
    missing = {(p, o) for p in range(PARTITIONS) for o in range(produced)} - seen
    assert not missing, f"never consumed: {sorted(missing)[:20]}"
    return {"duplicates": duplicates, "commits": committed}


def run_group_flow(broker, argv_for, *, topic: str, group: str, cwd: Path | None = None):
    """Three consumers, 2 partitions each; SIGKILL one; the other two take over."""
    create_topic(broker.bootstrap, topic, PARTITIONS)
    produce_phase(broker.bootstrap, topic, 1)
    events = Events()
    # The victim commits every 7 messages (so it dies with uncommitted messages), the
    # others after every message.
    consumers = [ConsumerProc(i, argv_for(broker.bootstrap, topic, group, 7 if i == 0 else 1),
                              events, cwd)
                 for i in range(3)]

    def diag() -> str:
        lines = [f"consumer {c.idx} (rc={c.proc.poll()}): assignment {c.assignment()}\n  "
                 + "\n  ".join(c.stderr[-15:]) for c in consumers]
        consumed = {(e["p"], e["o"]) for _, _, e in events.snapshot() if e["ev"] == "msg"}
        return "\n".join(lines) + f"\nconsumed {len(consumed)}\nbroker log:\n" + \
            broker.log_tail(40)

    def consumed_all(n: int) -> bool:
        got = {(e["p"], e["o"]) for _, _, e in events.snapshot() if e["ev"] == "msg"}
        return all((p, o) in got for p in range(PARTITIONS) for o in range(n))

    def balanced(live: list[ConsumerProc], each: int) -> bool:
        parts = [c.assignment() for c in live]
        return all(p is not None and len(p) == each for p in parts) and \
            sorted(x for p in parts for x in p) == list(range(PARTITIONS))

    try:
        wait_until(lambda: balanced(consumers, 2), "3 consumers with 2 partitions each", diag)
        wait_until(lambda: consumed_all(PER_PHASE), "phase 1 consumed", diag)
        victim, survivors = consumers[0], consumers[1:]
        victim.kill()
        produce_phase(broker.bootstrap, topic, 2)
        wait_until(lambda: balanced(survivors, 3), "2 survivors with 3 partitions each", diag)
        wait_until(lambda: consumed_all(2 * PER_PHASE), "phase 2 consumed", diag)
    finally:
        for c in consumers:
            c.stop()
    result = check_delivery(events.snapshot(), 2 * PER_PHASE)
    print(f"{topic}: {len(result['duplicates'])} redelivered after the kill")
    return result


def _py(script: str, strategy: str = "range"):
    def argv(bootstrap: str, topic: str, group: str, every: int) -> list[str]:
        return [sys.executable, "-c", script, bootstrap, topic, group, strategy, str(every)]
    return argv


def test_librdkafka_group_failover(broker):
    run_group_flow(broker, _py(RDKAFKA), topic="rdk", group="rdk-group")


def test_librdkafka_cooperative_sticky_failover(broker):
    run_group_flow(broker, _py(RDKAFKA, "cooperative-sticky"), topic="coop", group="coop-group")


def test_kafka_python_group_failover(broker):
    run_group_flow(broker, _py(KAFKA_PYTHON), topic="kp", group="kp-group")


def test_aiokafka_group_failover(broker):
    run_group_flow(broker, _py(AIOKAFKA), topic="aio", group="aio-group")


def test_kafkajs_group_failover(broker, kafkajs_dir):
    node = shutil.which("node")
    script = kafkajs_dir / "group_consumer.js"
    script.write_text(KAFKAJS)

    def argv(bootstrap, topic, group, every):
        return [node, str(script), bootstrap, topic, group, "range", str(every)]

    run_group_flow(broker, argv, topic="kjs", group="kjs-group", cwd=kafkajs_dir)


# -- raw protocol ---------------------------------------------------------------------------

_API_KEYS = {"OffsetCommit": 8, "OffsetFetch": 9, "FindCoordinator": 10, "JoinGroup": 11,
             "Heartbeat": 12, "LeaveGroup": 13, "SyncGroup": 14, "DescribeGroups": 15,
             "ListGroups": 16, "DeleteGroups": 42, "OffsetDelete": 47}


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.correlation = 0

    def call(self, module, name: str, version: int, **fields):
        api_key = _API_KEYS[name]
        self.correlation += 1
        payload = encode_request_header(RequestHeader(api_key, version, self.correlation,
                                                      "groups-test")) + \
            encode(getattr(module, f"{name}Request")(**fields), version)
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "connection closed"
            buf += chunk
        frame = buf[4:]
        assert struct.unpack(">i", frame[:4])[0] == self.correlation
        offset = 4
        if response_header_version(api_key, version) >= 1:
            _, offset = read_uvarint(frame, offset)
        return decode(getattr(module, f"{name}Response"), version, frame[offset:])


@pytest.fixture
def conn(broker):
    c = Conn(broker.port)
    yield c
    c.sock.close()


def wait_coordinator(conn: Conn, group: str, version: int = 2) -> int:
    """FindCoordinator until it names a node (the first call creates __consumer_offsets)."""
    deadline = time.monotonic() + LIVENESS_S
    while True:
        r = conn.call(find_coordinator, "FindCoordinator", version, key=group, key_type=0,
                      coordinator_keys=(group,))
        if version >= 4:
            (c,) = r.coordinators
            code, node = c.error_code, c.node_id
        else:
            code, node = r.error_code, r.node_id
        if code == 0:
            return node
        assert code == 15, code  # COORDINATOR_NOT_AVAILABLE until the topic has leaders
        assert time.monotonic() < deadline, "no coordinator"
        time.sleep(0.2)


def subscription(*topics: str) -> bytes:
    """ConsumerProtocol Subscription v0."""
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


def join(conn: Conn, version: int, group: str, member_id: str = "", instance_id=None,
         protocol_type: str = "consumer", session_timeout_ms: int = 6000, topic: str = "vt"):
    return conn.call(join_group, "JoinGroup", version, group_id=group,
                     session_timeout_ms=session_timeout_ms, rebalance_timeout_ms=10000,
                     member_id=member_id, group_instance_id=instance_id,
                     protocol_type=protocol_type,
                     protocols=(JoinGroupRequestProtocol(name="range",
                                                         metadata=subscription(topic)),))


def join_and_sync(conn: Conn, version: int, group: str, assignment: bytes = b"assign"):
    r = join(conn, version, group)
    if version >= 4:
        assert r.error_code == 79 and r.member_id.startswith("groups-test-"), r  # KIP-394
        r = join(conn, version, group, member_id=r.member_id)
    assert r.error_code == 0, r
    assert r.leader == r.member_id and [m.member_id for m in r.members] == [r.member_id]
    s = conn.call(sync_group, "SyncGroup", min(version, 5), group_id=group,
                  generation_id=r.generation_id, member_id=r.member_id,
                  protocol_type="consumer", protocol_name="range",
                  assignments=(SyncGroupRequestAssignment(member_id=r.member_id,
                                                          assignment=assignment),))
    assert s.error_code == 0 and s.assignment == assignment, s
    return r.member_id, r.generation_id


def commit(conn: Conn, version: int, group: str, gen: int, member: str, offsets: dict,
           metadata: str = ""):
    r = conn.call(offset_commit, "OffsetCommit", version, group_id=group,
                  generation_id_or_member_epoch=gen, member_id=member,
                  topics=tuple(OffsetCommitRequestTopic(name=t, partitions=(
                      OffsetCommitRequestPartition(partition_index=p, committed_offset=o,
                                                   committed_metadata=metadata),))
                      for (t, p), o in offsets.items()))
    return {(t.name, p.partition_index): p.error_code for t in r.topics for p in t.partitions}


def fetch(conn: Conn, version: int, group: str, parts=None):
    topics = None if parts is None else tuple(
        OffsetFetchRequestTopic(name=t, partition_indexes=(p,)) for t, p in parts)
    r = conn.call(offset_fetch, "OffsetFetch", version, group_id=group, topics=topics)
    return r, {(t.name, p.partition_index): (p.committed_offset, p.metadata, p.error_code)
               for t in r.topics for p in t.partitions}


def describe(conn: Conn, version: int, group: str):
    (g,) = conn.call(describe_groups, "DescribeGroups", version, groups=(group,)).groups
    return g


def test_group_apis_every_version(broker, conn):
    create_topic(broker.bootstrap, "vt", 2)
    for v in range(5):
        assert wait_coordinator(conn, f"probe-{v}", v) == 0
    for jv in range(8):
        group = f"grp-{jv}"
        member, gen = join_and_sync(conn, jv, group)
        assert gen == 1
        hb = conn.call(heartbeat, "Heartbeat", min(jv, 4), group_id=group, generation_id=gen,
                       member_id=member)
        assert hb.error_code == 0
        commit_versions = range(1, 9) if jv == 7 else [min(jv + 1, 8)]
        for cv in commit_versions:
            assert commit(conn, cv, group, gen, member, {("vt", 0): 100 + cv},
                          f"m{cv}") == {("vt", 0): 0}
            for fv in (range(1, 8) if jv == 7 else [min(jv + 1, 7)]):
                _, got = fetch(conn, fv, group, [("vt", 0), ("vt", 1)])
                assert got[("vt", 0)] == (100 + cv, f"m{cv}", 0), (cv, fv)
                assert got[("vt", 1)] == (-1, "", 0)
        for dv in range(6):
            d = describe(conn, dv, group)
            assert (d.error_code, d.group_state, d.protocol_type, d.protocol_data) == \
                (0, "Stable", "consumer", "range"), (dv, d)
            (m,) = d.members
            assert m.member_id == member and m.member_assignment == b"assign"
            assert m.client_host.startswith("/") and m.client_id == "groups-test"
        for lv in range(5):
            r = conn.call(list_groups, "ListGroups", lv, states_filter=("stable",))
            listed = {g.group_id: g for g in r.groups}
            assert r.error_code == 0 and group in listed and listed[group].protocol_type == \
                "consumer"
            if lv >= 4:
                assert listed[group].group_state == "Stable"
        lv = min(jv, 4)
        r = conn.call(leave_group, "LeaveGroup", lv, group_id=group, member_id=member,
                      members=(MemberIdentity(member_id=member, group_instance_id=None),))
        assert r.error_code == 0 and all(m.error_code == 0 for m in r.members)
        d = describe(conn, 5, group)
        assert (d.group_state, d.members) == ("Empty", ())
        hb = conn.call(heartbeat, "Heartbeat", 1, group_id=group, generation_id=gen,
                       member_id=member)
        assert hb.error_code == 25  # UNKNOWN_MEMBER_ID
    # v2+: null topics = every committed partition
    r, got = fetch(conn, 7, "grp-7", None)
    assert r.error_code == 0 and got == {("vt", 0): (108, "m8", 0)}
    for dv in range(3):
        r = conn.call(delete_groups, "DeleteGroups", dv, groups_names=(f"grp-{dv}", "nope"))
        assert {x.group_id: x.error_code for x in r.results} == {f"grp-{dv}": 0, "nope": 69}
    assert describe(conn, 0, "grp-0").group_state == "Dead"
    assert fetch(conn, 3, "grp-0", [("vt", 0)])[1][("vt", 0)] == (-1, "", 0)
    # OffsetDelete on an Empty group; the group goes away with its last offset.
    r = conn.call(offset_delete, "OffsetDelete", 0, group_id="grp-7", topics=(
        OffsetDeleteRequestTopic(name="vt", partitions=(
            OffsetDeleteRequestPartition(partition_index=0),)),
        OffsetDeleteRequestTopic(name="unknown-topic", partitions=(
            OffsetDeleteRequestPartition(partition_index=0),))))
    assert r.error_code == 0
    assert {(t.name, p.partition_index): p.error_code for t in r.topics
            for p in t.partitions} == {("vt", 0): 0, ("unknown-topic", 0): 3}
    assert fetch(conn, 5, "grp-7", [("vt", 0)])[1][("vt", 0)][0] == -1
    assert describe(conn, 5, "grp-7").group_state == "Dead"


def test_group_error_codes(broker, conn):
    create_topic(broker.bootstrap, "vt", 2)
    wait_coordinator(conn, "errors")
    assert join(conn, 5, "errors", session_timeout_ms=1000).error_code == 26
    assert join(conn, 5, "errors", member_id="stranger").error_code == 25
    member, gen = join_and_sync(conn, 5, "errors")
    assert join(conn, 5, "errors", protocol_type="connect").error_code == 23
    hb = lambda **kw: conn.call(heartbeat, "Heartbeat", 3, **{  # noqa: E731
        "group_id": "errors", "generation_id": gen, "member_id": member, **kw}).error_code
    assert hb(generation_id=gen + 5) == 22
    assert hb(member_id="someone-else") == 25
    assert hb(group_id="") == 24
    assert commit(conn, 2, "errors", gen + 1, member, {("vt", 0): 1}) == {("vt", 0): 22}
    assert commit(conn, 2, "errors", gen, member, {("vt", 0): 1}, "x" * 4097) == \
        {("vt", 0): 12}
    assert commit(conn, 2, "errors", gen, member, {("nope", 0): 1}) == {("nope", 0): 3}
    # a "simple" commit (generation -1, no member) goes only to an Empty group
    assert commit(conn, 2, "errors", -1, "", {("vt", 0): 1}) == {("vt", 0): 25}
    assert commit(conn, 2, "standalone", -1, "", {("vt", 1): 7}) == {("vt", 1): 0}
    assert fetch(conn, 1, "standalone", [("vt", 1)])[1][("vt", 1)] == (7, "", 0)
    r = conn.call(delete_groups, "DeleteGroups", 1, groups_names=("errors",))
    assert r.results[0].error_code == 68  # NON_EMPTY_GROUP
    # static membership (v5+): a new instance with the same id takes over without a rebalance
    r = join(conn, 5, "static", instance_id="i-1")
    assert r.error_code == 0 and r.generation_id == 1
    s = conn.call(sync_group, "SyncGroup", 3, group_id="static", generation_id=1,
                  member_id=r.member_id, group_instance_id="i-1",
                  assignments=(SyncGroupRequestAssignment(member_id=r.member_id,
                                                          assignment=b"a"),))
    assert s.error_code == 0
    r2 = join(conn, 5, "static", instance_id="i-1")
    assert r2.error_code == 0 and r2.generation_id == 1 and r2.member_id != r.member_id
    assert conn.call(heartbeat, "Heartbeat", 3, group_id="static", generation_id=1,
                     member_id=r.member_id, group_instance_id="i-1").error_code == 82
    assert conn.call(heartbeat, "Heartbeat", 3, group_id="static", generation_id=1,
                     member_id=r2.member_id, group_instance_id="i-1").error_code == 0
    r = conn.call(find_coordinator, "FindCoordinator", 1, key="txn", key_type=1)
    assert r.error_code == 15


def test_offset_commit_v0_writes_legacy_znode(broker, conn, kazoo_client):
    create_topic(broker.bootstrap, "legacy-topic", 2)
    assert commit(conn, 0, "legacy", -1, "", {("legacy-topic", 1): 42}, "dropped") == \
        {("legacy-topic", 1): 0}
    data, _ = kazoo_client.get("/consumers/legacy/offsets/legacy-topic/1")
    assert data == b"42"  # a plain decimal string, no metadata, no newline
    assert kazoo_client.get_children("/consumers/legacy") == ["offsets"]
    assert kazoo_client.get_children("/consumers/legacy/offsets/legacy-topic") == ["1"]
    assert commit(conn, 0, "legacy", -1, "", {("legacy-topic", 1): 43}) == \
        {("legacy-topic", 1): 0}
    assert kazoo_client.get("/consumers/legacy/offsets/legacy-topic/1")[0] == b"43"
    assert commit(conn, 0, "legacy", -1, "", {("missing", 0): 1}) == {("missing", 0): 3}
    assert not kazoo_client.exists("/consumers/legacy/offsets/missing")
    _, got = fetch(conn, 0, "legacy", [("legacy-topic", 1), ("legacy-topic", 0)])
    assert got == {("legacy-topic", 1): (43, "", 0), ("legacy-topic", 0): (-1, "", 3)}
    # v0 does not touch the Kafka-stored offsets, and v1+ does not read ZooKeeper
    wait_coordinator(conn, "legacy")
    assert fetch(conn, 1, "legacy", [("legacy-topic", 1)])[1][("legacy-topic", 1)] == \
        (-1, "", 0)


def test_groups_and_offsets_survive_restart(broker_factory, tmp_path):
    """Records in Kafka's formats are replayed when the broker leads __consumer_offsets
    again: committed offsets, and a Stable group with its member and assignment."""
    b = broker_factory(0)
    create_topic(b.bootstrap, "vt", 2)
    c = Conn(b.port)
    wait_coordinator(c, "durable")
    member, gen = join_and_sync(c, 7, "durable", b"the-assignment")
    assert commit(c, 8, "durable", gen, member, {("vt", 0): 11, ("vt", 1): 12}, "meta") == \
        {("vt", 0): 0, ("vt", 1): 0}
    c.sock.close()
    # The records, read back with a real consumer, decode with Kafka's schemas.
    from confluent_kafka import Consumer, TopicPartition

    part = partition_for("durable", 50)
    reader = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "reader",
                       "enable.auto.commit": False})
    reader.assign([TopicPartition("__consumer_offsets", part, 0)])
    keys = []
    deadline = time.monotonic() + LIVENESS_S
    while len(keys) < 3 and time.monotonic() < deadline:
        m = reader.poll(0.5)
        if m is not None and not m.error():
            k = decode_key(m.key())
            keys.append(k)
            if isinstance(k, OffsetKey):
                v = decode_offset_value(m.value())
                assert (v.offset, v.metadata) == ({0: 11, 1: 12}[k.partition], "meta")
            else:
                v = decode_group_value(m.value())
                assert v.generation == gen and v.leader == member
                assert [mm.assignment for mm in v.members] == [b"the-assignment"]
    reader.close()
    assert GroupMetadataKey("durable") in keys and OffsetKey("durable", "vt", 1) in keys
    b.stop()
    b2 = broker_factory(0, workdir=b.workdir)
    c = Conn(b2.port)
    wait_coordinator(c, "durable")
    deadline = time.monotonic() + LIVENESS_S
    while True:
        r, got = fetch(c, 7, "durable", [("vt", 0), ("vt", 1)])
        # COORDINATOR_LOAD_IN_PROGRESS while loading; NOT_COORDINATOR in the moment between
        # the metadata naming this broker and its LeaderAndIsr starting the load (a client
        # rediscovers and retries, as with Kafka)
        if r.error_code not in (14, 16):
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.1)
    assert got == {("vt", 0): (11, "meta", 0), ("vt", 1): (12, "meta", 0)}, r
    d = describe(c, 5, "durable")
    assert d.group_state == "Stable" and [m.member_id for m in d.members] == [member]
    assert d.members[0].member_assignment == b"the-assignment"
    # the member may go on heartbeating in its generation
    assert c.call(heartbeat, "Heartbeat", 4, group_id="durable", generation_id=gen,
                  member_id=member).error_code == 0
    c.sock.close()


def test_group_survives_loss_of_its_coordinator_broker(broker_factory, kazoo_client):
    """3 brokers, __consumer_offsets with RF 3: SIGKILL the broker leading the group's
    offsets partition. A follower takes the partition over, replays the group's records,
    and the consumers re-form the group and resume from their committed offsets (a message
    comes again only if no commit had covered it)."""
    props = {"zookeeper.session.timeout.ms": 4000, "offsets.topic.replication.factor": 3,
             "replica.lag.time.max.ms": 4000, "auto.leader.rebalance.enable": "false"}
    brokers = [broker_factory(i, wait=False, props=props) for i in range(3)]
    for b in brokers:
        b.wait_ready()
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic, group = "cgf", "cg-failover"
    create_topic(bootstrap, topic, PARTITIONS, replication_factor=3)
    produce_phase(bootstrap, topic, 1)
    events = Events()
    argv = _py(RDKAFKA)
    consumers = [ConsumerProc(i, argv(bootstrap, topic, group, 1), events) for i in range(3)]
    offsets_partition = partition_for(group, 50)

    def coordinator() -> int | None:
        path = f"/brokers/topics/__consumer_offsets/partitions/{offsets_partition}/state"
        if not kazoo_client.exists(path):
            return None
        return json.loads(kazoo_client.get(path)[0])["leader"]

    def diag() -> str:
        lines = [f"consumer {c.idx} (rc={c.proc.poll()}): assignment {c.assignment()}\n  "
                 + "\n  ".join(c.stderr[-10:]) for c in consumers]
        return "\n".join(lines) + "".join(f"\nbroker {b.broker_id}:\n{b.log_tail(25)}"
                                          for b in brokers)

    def consumed_all(n: int) -> bool:
        got = {(e["p"], e["o"]) for _, _, e in events.snapshot() if e["ev"] == "msg"}
        return all((p, o) in got for p in range(PARTITIONS) for o in range(n))

    def balanced(each: int) -> bool:
        parts = [c.assignment() for c in consumers]
        return all(p is not None and len(p) == each for p in parts) and \
            sorted(x for p in parts for x in p) == list(range(PARTITIONS))

    try:
        wait_until(lambda: balanced(2), "3 consumers with 2 partitions each", diag)
        wait_until(lambda: consumed_all(PER_PHASE), "phase 1 consumed", diag)
        victim_id = coordinator()
        assert victim_id in (0, 1, 2)
        assigns_before = sum(1 for _, _, e in events.snapshot() if e["ev"] == "assign")
        brokers[victim_id].kill()
        wait_until(lambda: coordinator() not in (None, -1, victim_id),
                   "a new leader for the group's offsets partition", diag)
        produce_phase(bootstrap, topic, 2)
        wait_until(lambda: consumed_all(2 * PER_PHASE), "phase 2 consumed", diag)
        wait_until(lambda: balanced(2), "the group re-formed with 2 partitions each", diag)
        assert all(c.proc.poll() is None for c in consumers), diag()
    finally:
        for c in consumers:
            c.stop()
    result = check_delivery(events.snapshot(), 2 * PER_PHASE)
    # Committed offsets survived the coordinator's death: nothing committed was re-read.
    print(f"coordinator {victim_id} killed; {len(result['duplicates'])} redelivered; "
          f"{sum(1 for _, _, e in events.snapshot() if e['ev'] == 'assign') - assigns_before} "
          f"assignments after the kill")
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                     timeout=30)
    finally:
        reader.close()
    # Commits made after the failover reached the new coordinator.
    assert [tp.offset for tp in committed] == [2 * PER_PHASE] * PARTITIONS, diag()
