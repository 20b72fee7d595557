"""``make bench-requests``: broker CPU per request for small, frequent requests.

What a broker spends on one tiny request (a one-record produce, a fetch of one small batch, a
metadata lookup, a heartbeat, an offset commit) is protocol and bookkeeping overhead, not data
movement; it bounds how many clients one broker can serve. This tool starts a ZooKeeper (or uses
``KAFKALITE_ZK_CONNECT``) and one fresh broker, then sends each kind of request one at a time
over a plain socket (one in flight, like ``max.in.flight=1``), encoded once up front so the
client costs next to nothing. The broker's CPU time comes from the scheduler statistics of all
its threads (``/proc/PID/task/*/schedstat``, nanoseconds) before and after each round; the
figure is that delta divided by the round's requests. Rounds of the kinds are interleaved and
the median of the rounds is printed, so a noisy neighbour on a busy machine moves every kind
alike. Request versions are the highest both this client and the broker speak (as librdkafka
2.x picks them).

``--rdkafka`` adds a one-record-per-request produce round driven by confluent-kafka
(``linger.ms=0``, ``batch.num.messages=1``, acks=1, 5 in flight), the shape of the benchmark
harness's "one record per request" phase, as a cross-check of the raw figure. ``--py-spy FILE``
samples the broker (``--gil``: Python time only) during the rounds and prints where it went.
Nothing is asserted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import statistics
import tempfile
import time
from pathlib import Path

import click

from kafkalite.cli.cluster import BrokerProcess
from kafkalite.protocol.framing import ClientConnection

NO_HTTP = {"metrics.listener": "", "console.listener": ""}
TOPIC = "bench-requests"
GROUP = "bench-requests-group"
KINDS = ("produce", "fetch", "metadata", "heartbeat", "offset_commit")


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in nanoseconds (scheduler statistics)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between listdir and open
    return total


def user_sys_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime) of ``pid`` in clock ticks, from ``/proc/PID/stat``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


class RawClient:
    """A blocking socket speaking Kafka through the sans-IO ``ClientConnection``."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = ClientConnection(client_id="bench-requests")
        self.versions: dict[int, tuple[int, int]] = {}
        from kafkalite.protocol.messages.api_versions import ApiVersionsRequest
        resp = self.call(ApiVersionsRequest(client_software_name="bench",
                                            client_software_version="1"), 3)
        self.versions = {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}

    def version(self, msg_cls) -> int:
        return min(self.versions[int(msg_cls.API_KEY)][1], msg_cls.MAX_VERSION)

    def call(self, msg, version: int):
        _, data = self.conn.send_request(msg, version)
        self.sock.sendall(data)
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            out = self.conn.receive_data(chunk)
            if out:
                return out[0][1]

    def prepared(self, msg, version: int) -> "Prepared":
        """``msg`` encoded once; every send reuses the bytes with a fresh correlation id."""
        return Prepared(self, msg, version)

    def close(self) -> None:
        self.sock.close()


class Prepared:
    def __init__(self, client: RawClient, msg, version: int):
        self.client = client
        _, frame = client.conn.send_request(msg, version)
        client.conn._pending.clear()
        self.frame = bytearray(frame)
        self.key = int(type(msg).API_KEY)
        self.version = version

    def run(self, n: int) -> None:
        """Send the request ``n`` times, each after the previous answer arrived."""
        sock, frame = self.client.sock, self.frame
        recv_into = sock.recv_into
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        for i in range(n):
            frame[8:12] = i.to_bytes(4, "big")     # correlation id, after size + key + version
            sock.sendall(frame)
            have = 0
            while have < 4 or have < 4 + int.from_bytes(buf[0:4], "big"):
                got = recv_into(view[have:])
                if not got:
                    raise ConnectionError(f"broker closed the connection (api key {self.key}, "
                                          f"request {i} of {n})")
                have += got
            if int.from_bytes(buf[4:8], "big") != i:
                raise RuntimeError("response out of order")


def _setup(client: RawClient) -> dict[str, Prepared]:
    from kafkalite.protocol.messages import (create_topics, fetch, find_coordinator,
                                             heartbeat, join_group, metadata,
                                             offset_commit, produce, sync_group)
    from kafkalite.records.builder import build_batch

    m = metadata
    client.call(create_topics.CreateTopicsRequest(topics=[create_topics.CreatableTopic(
        name=TOPIC, num_partitions=1, replication_factor=1)], timeout_ms=30000),
        client.version(create_topics.CreateTopicsRequest))
    deadline = time.monotonic() + 30
    while True:   # until the partition has a leader
        md = client.call(m.MetadataRequest(topics=[m.MetadataRequestTopic(name=TOPIC)]),
                         client.version(m.MetadataRequest))
        if md.topics and md.topics[0].partitions and md.topics[0].partitions[0].leader_id >= 0:
            break
        if time.monotonic() > deadline:
            raise click.ClickException("the benchmark topic got no leader")
        time.sleep(0.1)

    batch = build_batch([(None, b"x" * 100, (), int(time.time() * 1000))])
    produce_req = produce.ProduceRequest(acks=1, timeout_ms=30000, topic_data=[
        produce.TopicProduceData(name=TOPIC, partition_data=[
            produce.PartitionProduceData(index=0, records=memoryview(batch))])])
    pv = client.version(produce.ProduceRequest)
    r = client.call(produce_req, pv)
    last = r.responses[0].partition_responses[0].base_offset
    # A consumer that is one record behind: byte limits of 1 still return the first whole
    # batch (KIP-74), so the answer stays one small batch however long the log grows.
    fetch_req = fetch.FetchRequest(max_wait_ms=0, min_bytes=1, max_bytes=1,
                                   isolation_level=0, session_id=0, session_epoch=-1,
                                   topics=[fetch.FetchTopic(topic=TOPIC, partitions=[
                                       fetch.FetchPartition(partition=0, fetch_offset=last,
                                                            partition_max_bytes=1)])])
    metadata_req = m.MetadataRequest(topics=[m.MetadataRequestTopic(name=TOPIC)],
                                     allow_auto_topic_creation=False)

    # A one-member group: join (v4+ first returns MEMBER_ID_REQUIRED and the id), sync, then
    # heartbeats and commits with that generation.
    jv = client.version(join_group.JoinGroupRequest)
    join = dict(group_id=GROUP, session_timeout_ms=30000, rebalance_timeout_ms=30000,
                protocol_type="consumer",
                protocols=[join_group.JoinGroupRequestProtocol(name="range", metadata=b"")])
    deadline = time.monotonic() + 60
    member_id = ""
    fc = find_coordinator.FindCoordinatorRequest(key=GROUP, coordinator_keys=[GROUP])
    while True:   # the first FindCoordinator creates __consumer_offsets; wait until it leads
        client.call(fc, client.version(find_coordinator.FindCoordinatorRequest))
        jr = client.call(join_group.JoinGroupRequest(member_id=member_id, **join), jv)
        if jr.error_code == 0:
            break
        member_id = jr.member_id or member_id
        if time.monotonic() > deadline:
            raise click.ClickException(f"JoinGroup keeps failing (error {jr.error_code})")
        if jr.error_code != 79:  # MEMBER_ID_REQUIRED: retry at once; else (not yet) wait
            time.sleep(0.2)
    member_id, generation = jr.member_id, jr.generation_id
    sr = client.call(sync_group.SyncGroupRequest(
        group_id=GROUP, generation_id=generation, member_id=member_id, protocol_type="consumer",
        protocol_name="range", assignments=[sync_group.SyncGroupRequestAssignment(
            member_id=member_id, assignment=b"")]), client.version(sync_group.SyncGroupRequest))
    if sr.error_code:
        raise click.ClickException(f"SyncGroup failed (error {sr.error_code})")
    heartbeat_req = heartbeat.HeartbeatRequest(group_id=GROUP, generation_id=generation,
                                               member_id=member_id)
    commit_req = offset_commit.OffsetCommitRequest(
        group_id=GROUP, generation_id_or_member_epoch=generation, member_id=member_id,
        topics=[offset_commit.OffsetCommitRequestTopic(name=TOPIC, partitions=[
            offset_commit.OffsetCommitRequestPartition(partition_index=0, committed_offset=last,
                                                       committed_metadata="")])])
    for req in (heartbeat_req, commit_req, fetch_req):
        resp = client.call(req, client.version(type(req)))
        codes = _error_codes(resp)
        if any(codes):
            raise click.ClickException(f"{type(req).__name__} failed: errors {codes}")
    return {
        "produce": client.prepared(produce_req, pv),
        "fetch": client.prepared(fetch_req, client.version(fetch.FetchRequest)),
        "metadata": client.prepared(metadata_req, client.version(m.MetadataRequest)),
        "heartbeat": client.prepared(heartbeat_req, client.version(heartbeat.HeartbeatRequest)),
        "offset_commit": client.prepared(commit_req,
                                         client.version(offset_commit.OffsetCommitRequest)),
    }


def _error_codes(obj) -> list[int]:
    """Every ``error_code`` in a response, however deep."""
    out = []
    if isinstance(obj, (tuple, list)):
        for item in obj:
            out += _error_codes(item)
    elif hasattr(obj, "__attrs_attrs__"):
        for a in obj.__attrs_attrs__:
            value = getattr(obj, a.name)
            if a.name == "error_code":
                out.append(value)
            else:
                out += _error_codes(value)
    return out


def _rdkafka_round(bootstrap: str, pid: int, n: int) -> float:
    from confluent_kafka import Producer

    # The harness's "one record per request" producer: linger 0, one record per batch,
    # librdkafka's default 5 requests in flight.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": 1,
                  "batch.num.messages": 1, "enable.idempotence": False})
    for _ in range(50):   # connect, metadata, warm up
        p.produce(TOPIC, b"x" * 100, partition=0)
    p.flush(30)
    before = cpu_ns(pid)
    for i in range(n):
        try:
            p.produce(TOPIC, b"x" * 100, partition=0)
        except BufferError:
            p.poll(0.001)
        if not i & 0xFF:
            p.poll(0)
    p.flush(60)
    spent = cpu_ns(pid) - before
    del p
    return spent / n / 1000


def _start_py_spy(pid: int, out: str) -> subprocess.Popen:
    exe = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"
    proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--rate",
                             "500", "--gil", "--nonblocking", "-o", out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)   # attached before the first round
    return proc


def summarize_profile(path: str, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [fr.split(" (")[0] + " " + fr.rsplit("/", 1)[-1].split(":")[0].rstrip(")")
                      for fr in stack.split(";")]
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for fr in set(frames):
                inclusive[fr] = inclusive.get(fr, 0) + n
    if not total:
        return "py-spy: no samples"
    lines = [f"py-spy: {total} samples; self% / inclusive% of the top functions"]
    for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / total:5.1f}  {100 * inclusive[name] / total:5.1f}  {name}")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--requests", "n", envvar="REQUESTS", type=int, default=2000, show_default=True,
              help="Requests per kind per round.")
@click.option("--rounds", envvar="ROUNDS", type=int, default=5, show_default=True)
@click.option("--kinds", default=",".join(KINDS), show_default=True)
@click.option("--rdkafka/--no-rdkafka", default=False,
              help="Also a one-record produce round through confluent-kafka.")
@click.option("--py-spy", "py_spy", default=None, metavar="FILE",
              help="Sample the broker with py-spy during the rounds; collapsed stacks to FILE.")
def bench_requests(n: int, rounds: int, kinds: str, rdkafka: bool, py_spy: str | None) -> None:
    """Broker CPU µs per request: produce, fetch, metadata, heartbeat, offset commit."""
    from kafkalite.zk.launcher import LocalZooKeeper

    chosen = [k.strip() for k in kinds.split(",") if k.strip()]
    work = Path(tempfile.mkdtemp(prefix="kafkalite-bench-requests-"))
    click.echo(f"work dir {work}")
    connect = os.environ.get("KAFKALITE_ZK_CONNECT")
    zk = None
    if not connect:
        zk = LocalZooKeeper(data_dir=str(work / "zookeeper"))
        zk.start()
        connect = zk.hosts
    broker = BrokerProcess(broker_id=0, zk_connect=f"{connect}/bench-requests-{os.getpid()}",
                           workdir=work / "broker",
                           overrides={**NO_HTTP, "num.partitions": 1,
                                      "offsets.topic.num.partitions": 1,
                                      "offsets.topic.replication.factor": 1,
                                      "group.initial.rebalance.delay.ms": 0})
    try:
        broker.start()
        client = RawClient(broker.host, broker.port)
        prepared = _setup(client)
        for kind in chosen:   # warm up: compile codecs, fill caches
            prepared[kind].run(200)
        spy = _start_py_spy(broker.pid, py_spy) if py_spy else None
        results: dict[str, list[float]] = {k: [] for k in chosen}
        system: dict[str, list[float]] = {k: [] for k in chosen}
        if rdkafka:
            results["produce (confluent-kafka)"] = []
        for _ in range(rounds):
            for kind in chosen:
                before, ticks = cpu_ns(broker.pid), user_sys_ticks(broker.pid)
                prepared[kind].run(n)
                results[kind].append((cpu_ns(broker.pid) - before) / n / 1000)
                user, sys_ = (b - a for a, b in zip(ticks, user_sys_ticks(broker.pid)))
                system[kind].append(100 * sys_ / max(1, user + sys_))
            if rdkafka:
                results["produce (confluent-kafka)"].append(
                    _rdkafka_round(broker.bootstrap, broker.pid, n))
        client.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            click.echo(summarize_profile(py_spy))
        click.echo(f"broker CPU per request, µs (median of {rounds} rounds of {n}; min-max; "
                   f"share of it in the kernel)")
        for kind, values in results.items():
            version = f"v{prepared[kind].version}" if kind in prepared else "  "
            kernel = f"  sys {statistics.median(system[kind]):.0f}%" if kind in system else ""
            click.echo(f"  {kind:<26} {version:<4} {statistics.median(values):8.1f}  "
                       f"({min(values):.1f}-{max(values):.1f}){kernel}")
    finally:
        broker.stop()
        if zk is not None:
            zk.stop()


main = bench_requests

if __name__ == "__main__":
    main()
