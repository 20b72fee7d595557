"""The ZooKeeper layer against a real ZooKeeper (kafkalite.testing.zookeeper; the local JVM
where there is no Docker). One server per module, a fresh chroot per test.

Covers the session bridge (events, CRUD, multi, watches across a real session expiry), Kafka's
algorithms in kafka_zk (election, fencing, broker registration, producer id CAS, admin writes)
and the three command-line tools run as subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio
from trio.testing import trio_test

from kafkalite.errors import (InvalidReplicaAssignment, InvalidTopicException,
                              TopicAlreadyExists, UnknownTopicOrPartition)
from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.testing.zookeeper import ZooKeeperHandle, open_zookeeper, unique_chroot
from kafkalite.zk.errors import (BadVersionError, BrokerIdInUse, ControllerMovedError,
                                 NodeExistsError, NoNodeError, NotEmptyError)
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.launcher import free_port, is_serving, is_zookeeper_pid, read_pid_file
from kafkalite.zk.ops import CheckOp, CreateOp, DeleteOp, SetDataOp
from kafkalite.zk.session import SessionEvent, SyncZk, ZkSession, expire_session
from kafkalite.zk.znodes import LeaderIsrAndControllerEpoch

pytestmark = pytest.mark.zk

SESSION_MS = 2000   # the module's server runs tickTime=500: 2 s sessions are allowed
TEST_TIMEOUT = 45


@pytest.fixture(scope="module")
def zk_server() -> Iterator[ZooKeeperHandle]:
    with open_zookeeper() as zk:
        yield zk


@pytest.fixture
def connect(zk_server: ZooKeeperHandle) -> str:
    return zk_server.hosts + unique_chroot()


@contextlib.asynccontextmanager
async def opened(connect: str) -> AsyncIterator[ZkSession]:
    async with ZkSession(connect, session_timeout_ms=SESSION_MS,
                         connection_timeout_ms=10000) as s:
        yield s


async def kinds_until(events: trio.MemoryReceiveChannel[SessionEvent], last: str
                      ) -> list[str]:
    seen = []
    async for ev in events:
        seen.append(ev.kind)
        if ev.kind == last:
            return seen
    raise AssertionError(f"channel closed before {last}: {seen}")


def broker_info(broker_id: int, port: int = 9092) -> BrokerInfo:
    return BrokerInfo(broker_id, (BrokerEndpoint("PLAINTEXT", "localhost", port),))


# -- session ---------------------------------------------------------------------------------


@trio_test
async def test_session_events_and_crud(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        s = ZkSession(connect, session_timeout_ms=SESSION_MS, connection_timeout_ms=10000)
        events = s.state_events()
        await s.start()
        first = await events.receive()
        assert first == SessionEvent("CONNECTED", s.session_id) and s.session_id

        assert await s.create("/a", b"x") == "/a"
        data, stat = await s.get("/a")
        assert (data, stat.version, stat.ephemeral_owner) == (b"x", 0, 0)
        assert (await s.set("/a", b"y", version=0)).version == 1
        with pytest.raises(BadVersionError) as bad:
            await s.set("/a", b"z", version=0)
        assert bad.value.path == "/a"
        with pytest.raises(NodeExistsError):
            await s.create("/a")
        with pytest.raises(NoNodeError):
            await s.create("/a/b/c")
        await s.create("/a/b/c", makepath=True)
        assert await s.get_children("/a") == ["b"]
        with pytest.raises(NotEmptyError):
            await s.delete("/a")
        seq = await s.create("/a/q-", sequence=True)
        assert seq == "/a/q-0000000001"   # the counter counts /a's children ever created
        eph_path, eph = await s.create_with_stat("/a/e", b"", ephemeral=True)
        assert eph.ephemeral_owner == s.session_id and eph.czxid > 0
        assert await s.exists("/nope") is None
        assert await s.get_or_none("/nope") is None
        with pytest.raises(NoNodeError):
            await s.get("/nope")
        assert [r and r[0] for r in await s.get_many(["/a", "/nope"])] == [b"y", None]
        await s.delete("/a", recursive=True)
        assert await s.exists("/a") is None
        await s.ensure_path("/x/y/z")
        assert await s.exists("/x/y/z") is not None

        await s.close()
        with pytest.raises(trio.EndOfChannel):
            await events.receive()


@trio_test
async def test_chroot_is_created_first(zk_server: ZooKeeperHandle) -> None:
    chroot = unique_chroot() + "/kafka"
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(zk_server.hosts + chroot) as s:
            assert s.chroot == chroot
            await s.create("/inside", b"1")
            assert await s.get_children("/") == ["inside"]
    with SyncZk(zk_server.hosts) as root:
        assert root.get(f"{chroot}/inside")[0] == b"1"


@trio_test
async def test_multi_is_atomic_and_reports_first_failing_op(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            await s.create("/m")
            path, stat, none = await s.multi([CreateOp("/m/a", b"1"),
                                              SetDataOp("/m", b"v1", 0), CheckOp("/m", 1)])
            assert (path, stat.version, none) == ("/m/a", 1, None)
            with pytest.raises(BadVersionError) as exc:
                await s.multi([CreateOp("/m/b"), SetDataOp("/m", b"v2", 0),
                               DeleteOp("/nope")])
            assert (exc.value.op_index, exc.value.path) == (1, "/m")
            assert await s.exists("/m/b") is None
            ok, failed = await s.multi_many([[DeleteOp("/m/a")], [DeleteOp("/m/zz")]])
            assert ok == [None] and isinstance(failed, NoNodeError) and failed.op_index == 0


@trio_test
async def test_watches_deliver_changes_and_survive_a_new_session(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s, opened(connect) as other:
            events = s.state_events()
            children = await s.watch_children("/w")
            data = await s.watch_data("/d")
            assert await children.receive() == []
            assert await data.receive() == (None, None)

            await other.create("/w/x")
            assert await children.receive() == ["x"]
            await other.create("/d", b"1")
            value, stat = await data.receive()
            assert value == b"1" and stat is not None and stat.version == 0

            old = s.session_id
            await expire_session(s)
            assert await kinds_until(events, "RECONNECTED_NEW_SESSION") == [
                "SUSPENDED", "LOST", "RECONNECTED_NEW_SESSION"]
            assert s.session_id not in (None, old)

            await other.create("/w/y")
            assert await children.receive() == ["x", "y"]
            await other.set("/d", b"2")
            value, stat = await data.receive()
            assert value == b"2" and stat.version == 1

            await children.aclose()           # closing the channel ends the watch quietly
            await other.create("/w/z")
            await other.delete("/d")
            assert await data.receive() == (None, None)


# -- broker lifecycle ------------------------------------------------------------------------


@trio_test
async def test_cluster_id_and_broker_id_generation(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            assert await zk.get_or_create_cluster_id("first") == "first"
            assert await zk.get_or_create_cluster_id("second") == "first"
            assert (await s.get("/cluster/id"))[0] == b'{"version":"1","id":"first"}'
            assert [await zk.generate_broker_id() for _ in range(2)] == [1001, 1002]


@trio_test
async def test_register_broker_rejects_a_duplicate_id(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as a, opened(connect) as b:
            za, zb = KafkaZk(a), KafkaZk(b)
            await za.create_persistent_paths()
            epoch = await za.register_broker(broker_info(0))
            assert await za.register_broker(broker_info(0)) == epoch   # ours: accepted
            with pytest.raises(BrokerIdInUse, match=r"Error while creating ephemeral at "
                               r"/brokers/ids/0, node already exists and owner '\d+' does not "
                               r"match current session"):
                await zb.register_broker(broker_info(0))
            assert await zb.get_all_brokers() == [
                BrokerInfo(0, broker_info(0).endpoints, broker_epoch=epoch)]
            assert (await zb.get_broker(0)).broker_epoch == epoch


@trio_test
async def test_reregistration_after_a_forced_session_expiry(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s, opened(connect) as observer:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            events = s.state_events()
            ids = await observer.watch_children("/brokers/ids")
            assert await ids.receive() == []
            epoch1 = await zk.register_broker(broker_info(0))
            assert await ids.receive() == ["0"]

            await expire_session(s)
            assert await ids.receive() == []          # the ephemeral went with the session
            await kinds_until(events, "RECONNECTED_NEW_SESSION")
            epoch2 = await zk.register_broker(broker_info(0))
            assert epoch2 > epoch1
            assert await ids.receive() == ["0"]
            assert [b.broker_epoch for b in await KafkaZk(observer).get_all_brokers()] == [epoch2]


# -- controller ------------------------------------------------------------------------------


def state(leader: int, isr: tuple[int, ...], *, leader_epoch: int = 0,
          controller_epoch: int = 1) -> LeaderIsrAndControllerEpoch:
    return LeaderIsrAndControllerEpoch(leader, leader_epoch, isr, controller_epoch)


async def topic_with_states(zk: KafkaZk, topic: str, n: int, isr: tuple[int, ...]):
    """Broker 0 elected controller, and ``topic`` with ``n`` partitions on brokers 0 and 1,
    each with a state led by 0 with ``isr``: the election and the partitions."""
    await zk.create_persistent_paths()
    election = await zk.try_elect_controller(0, now_ms=1)
    await zk.create_topic(topic, {p: [0, 1] for p in range(n)})
    await zk.create_partition_states_many(
        {topic: {p: state(0, isr) for p in range(n)}}, election.epoch_zk_version)
    return election, [TopicPartition(topic, p) for p in range(n)]


@trio_test
async def test_election_and_fenced_writes(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as a, opened(connect) as b:
            za, zb = KafkaZk(a), KafkaZk(b)
            await za.create_persistent_paths()
            first = await za.try_elect_controller(1, now_ms=1)
            assert (first.epoch, first.epoch_zk_version) == (1, 1)
            assert await za.try_elect_controller(1, now_ms=2) == first   # it names us
            assert await zb.try_elect_controller(2, now_ms=3) is None
            assert await zb.get_controller_id() == 1
            assert await zb.get_controller_epoch() == (1, 1)

            await za.create_topic("t", {0: [1, 2], 1: [2, 1]})
            created = await za.create_partition_states(
                "t", {0: state(1, (1, 2)), 1: state(2, (2, 1))}, first.epoch_zk_version)
            assert created == {0: 0, 1: 0}
            again = await za.create_partition_states("t", {0: state(1, (1,))},
                                                     first.epoch_zk_version)
            assert isinstance(again[0], NodeExistsError)

            # broker 1 resigns; broker 2 wins epoch 2; broker 1's fenced writes now fail
            await za.delete_controller(first.epoch_zk_version)
            second = await zb.try_elect_controller(2, now_ms=4)
            assert (second.epoch, second.epoch_zk_version) == (2, 2)
            stale = {("t", 0): (state(1, (1,), leader_epoch=1), 0)}
            with pytest.raises(ControllerMovedError):
                await za.update_partition_states(stale, first.epoch_zk_version)
            with pytest.raises(ControllerMovedError):
                await za.create_partition_states("t", {2: state(1, (1,))},
                                                 first.epoch_zk_version)
            with pytest.raises(ControllerMovedError):
                await za.delete_topic_znodes("t", first.epoch_zk_version)
            assert (await zb.get_partition_state("t", 0)).isr == (1, 2)

            new = state(2, (2,), leader_epoch=1, controller_epoch=2)
            results = await zb.update_partition_states(
                {("t", 0): (new, 0), TopicPartition("t", 1): (new, 5)},
                second.epoch_zk_version)
            assert results[("t", 0)] == 1
            assert isinstance(results[TopicPartition("t", 1)], BadVersionError)
            assert await zb.get_partition_states("t") == {
                0: LeaderIsrAndControllerEpoch(2, 1, (2,), 2, zk_version=1),
                1: LeaderIsrAndControllerEpoch(2, 0, (2, 1), 1, zk_version=0)}


@trio_test
async def test_leader_isr_update_is_cas_with_lost_ack_check(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            election = await zk.try_elect_controller(0, now_ms=1)
            await zk.create_topic("t", {0: [0, 1]})
            await zk.create_partition_states("t", {0: state(0, (0, 1))},
                                             election.epoch_zk_version)
            shrunk = state(0, (0,))
            assert await zk.conditional_update_partition_state("t", 0, shrunk, 0) == 1
            # a retry of the same write whose ack was lost: already applied => success
            assert await zk.conditional_update_partition_state("t", 0, shrunk, 0) == 1
            assert await zk.conditional_update_partition_state("t", 0, state(0, (0, 1)),
                                                               0) is None
            assert await zk.conditional_update_partition_state("t", 9, shrunk, 0) is None


@trio_test
async def test_many_leader_isr_writes_share_multis_with_their_own_answers(connect: str) -> None:
    """A leader's ISR writes after a restart go STATE_WRITES_PER_MULTI to a multi (not
    fenced: §6.5); a stale zkVersion fails only its own partition, a lost ack of an applied
    write still counts, and a partition without state answers None."""
    from kafkalite.zk.kafka_zk import STATE_WRITES_PER_MULTI as CHUNK

    n = CHUNK + 20
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            _election, tps = await topic_with_states(zk, "i", n, (0,))
            expanded = state(0, (0, 1))
            assert await zk.conditional_update_partition_states(
                {tp: (expanded, 0) for tp in tps}) == {tp: 1 for tp in tps}
            paths = [f"/brokers/topics/i/partitions/{p}/state" for p in range(n)]
            assert len({r[1].mzxid for r in await s.get_many(paths, small=True)}) == 2

            stale, lost_ack = 3, 5   # both in the first chunk
            shrunk = state(0, (0,))
            updates = {tp: (shrunk, 1) for tp in tps}
            updates[tps[stale]] = (shrunk, 0)
            updates[tps[lost_ack]] = (expanded, 0)   # as written above, its ack "lost"
            updates[TopicPartition("i", n)] = (shrunk, 0)   # no such partition
            results = await zk.conditional_update_partition_states(updates)
            assert results[tps[stale]] is None and results[tps[lost_ack]] == 1
            assert results[TopicPartition("i", n)] is None
            assert all(results[tp] == 2 for i, tp in enumerate(tps) if i not in (stale, lost_ack))
            got = await zk.get_partition_states_many(tps)
            assert got[tps[stale]].isr == (0, 1) and got[tps[lost_ack]].isr == (0, 1)
            assert all(got[tp].isr == (0,) for i, tp in enumerate(tps)
                       if i not in (stale, lost_ack))


# -- admin and other brokers' writes ---------------------------------------------------------


@trio_test
async def test_producer_id_blocks_under_contention(connect: str) -> None:
    blocks: list[tuple[int, int]] = []
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as a, opened(connect) as b:
            await KafkaZk(a).create_persistent_paths()

            async def claim(zk: KafkaZk, broker_id: int) -> None:
                blocks.append(await zk.allocate_producer_id_block(broker_id))

            async with trio.open_nursery() as nursery:
                for i in range(10):
                    nursery.start_soon(claim, KafkaZk(a if i % 2 else b), i % 2)
            assert sorted(blocks) == [(i * 1000, i * 1000 + 999) for i in range(10)]
            data, stat = await a.get("/latest_producer_id_block")
            assert b'"block_start":"9000","block_end":"9999"' in data and stat.version == 10


@trio_test
async def test_topic_admin_configs_and_deletion(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            await zk.create_topic("foo_bar", {0: [0, 1], 1: [1, 0]}, {"retention.ms": "1000"})
            assert await zk.get_all_topics() == ["foo_bar"]
            a = await zk.get_topic_assignment("foo_bar")
            assert a.partitions == {0: (0, 1), 1: (1, 0)} and a.zk_version == 0
            assert (await s.get("/config/topics/foo_bar"))[0] == \
                b'{"version":1,"config":{"retention.ms":"1000"}}'
            with pytest.raises(TopicAlreadyExists):
                await zk.create_topic("foo_bar", {0: [0]})
            with pytest.raises(InvalidTopicException, match="collides"):
                await zk.create_topic("foo.bar", {0: [0]})
            with pytest.raises(InvalidReplicaAssignment):
                await zk.create_topic("dup", {0: [1, 1]})

            note = await zk.set_topic_config("foo_bar", {"cleanup.policy": "compact"})
            assert note == "/config/changes/config_change_0000000000"
            assert (await s.get(note))[0] == b'{"version":2,"entity_path":"topics/foo_bar"}'
            assert await zk.get_topic_config("foo_bar") == {"cleanup.policy": "compact"}

            assert await zk.add_partitions("foo_bar", {2: [0, 1]}, expected_version=0) == 1
            with pytest.raises(BadVersionError):
                await zk.add_partitions("foo_bar", {3: [0, 1]}, expected_version=0)
            with pytest.raises(InvalidReplicaAssignment):
                await zk.add_partitions("foo_bar", {5: [0, 1]})
            assert sorted((await zk.get_topic_assignment("foo_bar")).partitions) == [0, 1, 2]

            assert await zk.mark_topic_for_deletion("foo_bar") is True
            assert await zk.mark_topic_for_deletion("foo_bar") is False
            assert await zk.get_topics_marked_for_deletion() == ["foo_bar"]
            with pytest.raises(UnknownTopicOrPartition):
                await zk.mark_topic_for_deletion("nope")

            election = await zk.try_elect_controller(0, now_ms=1)
            await zk.create_partition_states("foo_bar", {0: state(0, (0, 1))},
                                             election.epoch_zk_version)
            await zk.delete_topic_znodes("foo_bar", election.epoch_zk_version)
            assert await zk.get_all_topics() == []
            assert await zk.get_topic_config("foo_bar") == {}
            assert await zk.get_topics_marked_for_deletion() == []


@trio_test
async def test_consumer_offsets_and_notifications(connect: str) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            assert await zk.get_consumer_offset("g", "t", 0) is None
            await zk.set_consumer_offset("g", "t", 0, 42)
            await zk.set_consumer_offset("g", "t", 0, 43)
            assert await zk.get_consumer_offset("g", "t", 0) == 43
            assert (await s.get("/consumers/g/offsets/t/0"))[0] == b"43"

            tps = [TopicPartition("t", 0), TopicPartition("u", 3)]
            path = await zk.post_isr_change_notification(tps)
            assert path == "/isr_change_notification/isr_change_0000000000"
            await zk.post_isr_change_notification(tps[:1])
            names = await zk.get_all_isr_change_notifications()
            assert names == ["isr_change_0000000000", "isr_change_0000000001"]
            assert await zk.get_partitions_from_isr_change_notifications(names) == tps
            await zk.post_log_dir_event_notification(3)
            events = await zk.get_all_log_dir_event_notifications()
            assert await zk.get_broker_ids_from_log_dir_events(events) == [3]

            election = await zk.try_elect_controller(0, now_ms=1)
            await zk.delete_isr_change_notifications(names[:1], election.epoch_zk_version)
            assert await zk.get_all_isr_change_notifications() == names[1:]
            await zk.delete_isr_change_notifications(None, election.epoch_zk_version)
            await zk.delete_log_dir_event_notifications(None, election.epoch_zk_version)
            assert await zk.get_all_isr_change_notifications() == []
            assert await zk.get_all_log_dir_event_notifications() == []


# -- command-line tools ----------------------------------------------------------------------


def run_tool(command: str, *args: str, input: str | None = None, timeout: float = 60,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kafkalite.cli.zookeeper_tools", command,
                           *args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_zookeeper_shell(zk_server: ZooKeeperHandle, connect: str) -> None:
    chroot = connect[len(zk_server.hosts):]
    with SyncZk(zk_server.hosts) as root:
        root.create(f"{chroot}/brokers/ids/0", b'{"version":4}', makepath=True)

    r = run_tool("zookeeper-shell", connect, "ls", "/brokers/ids")
    assert (r.returncode, r.stdout, r.stderr) == (0, "[0]\n", "")
    r = run_tool("zookeeper-shell", connect, "get", "/brokers/ids/0")
    assert (r.returncode, r.stdout) == (0, '{"version":4}\n')
    r = run_tool("zookeeper-shell", connect, "create", "/c", "hello world")
    assert (r.returncode, r.stdout) == (0, "Created /c\n")
    r = run_tool("zookeeper-shell", connect, "get", "/nope")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "Node does not exist: /nope\n")

    script = "ls /\nget /c\nset /c bye\nget /c\nstat /c\ndelete /brokers\nrmr /brokers\nls /\n"
    r = run_tool("zookeeper-shell", connect, input=script)
    lines = r.stdout.splitlines()
    assert lines[:3] == ["[brokers, c]", "hello world", "bye"]
    assert "dataVersion = 1" in lines and lines[-1] == "[c]"
    assert r.stderr == "Node not empty: /brokers\n" and r.returncode == 1

    dead = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    r = run_tool("zookeeper-shell", "--timeout", "2", dead, "ls", "/")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"Error: could not connect to ZooKeeper at {dead} within 2000 ms"
    assert time.monotonic() - started < 15


@pytest.fixture
def properties(tmp_path: Path) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """A zookeeper.properties on a free port, an isolated pid registry, and a teardown that
    stops whatever the test left running — by the PID it recorded."""
    port = free_port()
    props = tmp_path / "zookeeper.properties"
    props.write_text(f"dataDir={tmp_path / 'data'}\nclientPort={port}\n"
                     "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n"
                     "admin.enableServer=false\ntickTime=500\n")
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    yield props, port, env
    pid = read_pid_file(tmp_path / "data" / "kafkalite-zookeeper.pid")
    if pid is not None and is_zookeeper_pid(pid):
        os.kill(pid, signal.SIGKILL)


def test_server_start_daemon_and_stop_by_pid(properties: tuple[Path, int, dict]) -> None:
    props, port, env = properties
    r = run_tool("zookeeper-server-start", "-daemon", str(props), env=env)
    assert r.returncode == 0, r.stderr
    assert f"listening on 127.0.0.1:{port}" in r.stdout
    pid = read_pid_file(props.parent / "data" / "kafkalite-zookeeper.pid")
    assert pid is not None and is_zookeeper_pid(pid) and is_serving("127.0.0.1", port)
    with SyncZk(f"127.0.0.1:{port}") as zk:
        zk.create("/hello", b"world")

    r = run_tool("zookeeper-server-start", "-daemon", str(props), env=env)
    assert r.returncode == 1 and "already running" in r.stderr

    r = run_tool("zookeeper-server-stop", env=env)      # no args: every server we recorded
    assert (r.returncode, r.stdout) == (0, f"Stopped ZooKeeper pid {pid}\n"), r.stderr
    assert not is_zookeeper_pid(pid)
    assert not (props.parent / "data" / "kafkalite-zookeeper.pid").exists()
    r = run_tool("zookeeper-server-stop", str(props), env=env)
    assert (r.returncode, r.stderr) == (1, "No zookeeper server to stop\n")


def test_server_start_foreground_forwards_sigterm(properties: tuple[Path, int, dict]) -> None:
    props, port, env = properties
    proc = subprocess.Popen([sys.executable, "-m", "kafkalite.cli.zookeeper_tools",
                             str(props)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not is_serving("127.0.0.1", port):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        pid = read_pid_file(props.parent / "data" / "kafkalite-zookeeper.pid")
        assert pid is not None and is_zookeeper_pid(pid) and pid != proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not is_zookeeper_pid(pid)
        assert not (props.parent / "data" / "kafkalite-zookeeper.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@trio_test
async def test_bulk_reads_match_one_by_one_reads(connect: str) -> None:
    """The pipelined many-topic reads the controller loads the cluster with give exactly what
    the single reads give, missing topics and partitions without state included."""
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await zk.create_persistent_paths()
            election = await zk.try_elect_controller(0, now_ms=1)
            topics = [f"bulk-{i}" for i in range(6)]
            for i, t in enumerate(topics):
                await zk.create_topic(t, {p: [0, 1] for p in range(i + 1)},
                                      {"retention.ms": str(i)} if i % 2 else None)
            created = await zk.create_partition_states_many(
                {t: {p: state(p % 2, (0, 1), leader_epoch=i)
                     for p in range(i + 1) if p != 1}
                 for i, t in enumerate(topics) if i != 3} | {"gone": {0: state(0, (0,))}},
                election.epoch_zk_version)
            assert isinstance(created["gone"][0], NoNodeError)
            assert created["bulk-2"] == {0: 0, 2: 0}
            assert "bulk-3" not in created

            wanted = [*topics, "gone"]
            assignments = await zk.get_topic_assignments(wanted)
            assert set(assignments) == set(topics)
            for t in wanted:
                assert assignments.get(t) == await zk.get_topic_assignment(t)
            states = await zk.get_partition_states_of_topics(wanted)
            for t in wanted:
                assert states[t] == await zk.get_partition_states(t)
            assert sorted(states["bulk-4"]) == [0, 2, 3, 4] and states["bulk-3"] == {}
            assert states["bulk-5"][5].leader_epoch == 5
            configs = await zk.get_topic_configs(wanted)
            for t in wanted:
                assert configs[t] == await zk.get_topic_config(t)
            assert configs["bulk-1"] == {"retention.ms": "1"} and configs["gone"] == {}
            paths = ["/brokers/topics/bulk-5/partitions", "/brokers/topics/gone", "/brokers"]
            children = await s.get_children_many(paths)
            assert children[1] is None
            assert [sorted(c) for c in children if c is not None] == [
                sorted(await s.get_children(p)) for p in paths if p != "/brokers/topics/gone"]


@trio_test
async def test_many_state_writes_share_multis_and_each_partition_gets_its_answer(
        connect: str) -> None:
    """A failover's election writes go STATE_WRITES_PER_MULTI to a fenced multi (one
    ZooKeeper transaction each: the written states share an mzxid), are read back with
    multiRead, and a stale zkVersion fails only its own partition: the chunk it was in is
    written again one partition per multi."""
    from kafkalite.zk.kafka_zk import STATE_WRITES_PER_MULTI as CHUNK

    n = 2 * CHUNK + 50
    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            election, tps = await topic_with_states(zk, "w", n, (0, 1))
            paths = [f"/brokers/topics/w/partitions/{p}/state" for p in range(n)]
            one_by_one = await s.get_many([*paths, "/nope"])
            assert await s.get_many([*paths, "/nope"], small=True) == one_by_one
            assert await s.get_versioned_many([*paths, "/nope"]) == [
                None if r is None else (r[0], r[1].version) for r in one_by_one]

            moved = state(1, (1,), leader_epoch=1)
            results = await zk.update_partition_states(
                {tp: (moved, 0) for tp in tps}, election.epoch_zk_version)
            assert results == {tp: 1 for tp in tps}
            stats = [r[1] for r in await s.get_many(paths, small=True)]
            assert len({st.mzxid for st in stats}) == 3   # n writes in three transactions

            stale = CHUNK + 7   # in the second chunk
            again = state(0, (0, 1), leader_epoch=2)
            results = await zk.update_partition_states(
                {tp: (again, 0 if tp.partition == stale else 1) for tp in tps},
                election.epoch_zk_version)
            assert isinstance(results[tps[stale]], BadVersionError)
            assert all(results[tp] == 2 for tp in tps if tp.partition != stale)
            got = await zk.get_partition_states_many(tps)
            assert got[tps[stale]].leader_epoch == 1
            assert all(got[tp].leader_epoch == 2 for tp in tps if tp.partition != stale)
            mzxids = [r[1].mzxid for r in await s.get_many(paths, small=True)]
            assert len(set(mzxids[:CHUNK])) == 1 and len(set(mzxids[2 * CHUNK:])) == 1
            one_by_one = [z for i, z in enumerate(mzxids[CHUNK:2 * CHUNK], CHUNK) if i != stale]
            assert len(set(one_by_one)) == CHUNK - 1 and mzxids[stale] == stats[stale].mzxid

            await zk.delete_controller(election.epoch_zk_version)
            assert await zk.try_elect_controller(1, now_ms=2) is not None
            with pytest.raises(ControllerMovedError):
                await zk.update_partition_states({tp: (again, 2) for tp in tps},
                                                 election.epoch_zk_version)


@pytest.mark.parametrize("breakage", ["call", "answer"])
@trio_test
async def test_bulk_reads_fall_back_to_one_read_per_znode_if_kazoo_changes(
        connect: str, breakage: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """multiRead rides on kazoo's private ``KazooClient._call``. If a kazoo release takes it
    differently (the call raises, or the answer comes back as an error of its own), bulk reads
    give the same answers one znode per request, with a warning, and stop trying multiRead."""
    from kafkalite.zk import session as zk_session

    with trio.fail_after(TEST_TIMEOUT):
        async with opened(connect) as s:
            zk = KafkaZk(s)
            await topic_with_states(zk, "fb", 5, (0, 1))
            paths = [f"/brokers/topics/fb/partitions/{p}/state" for p in range(5)]
            wanted = [*paths, "/nope"]
            one_by_one = await s.get_many(wanted)
            versioned = [None if r is None else (r[0], r[1].version) for r in one_by_one]

            multi_reads = 0
            broken = False
            real_call = s._client._call

            def call(request, async_object):   # noqa: ANN001 - kazoo's signature
                nonlocal multi_reads
                if request.type == zk_session._MULTI_READ:
                    multi_reads += 1
                    if broken and breakage == "call":
                        raise AttributeError("'KazooClient' object has no attribute '_call'")
                return real_call(request, async_object)

            monkeypatch.setattr(s._client, "_call", call)
            assert await s.get_versioned_many(wanted) == versioned   # multiRead as usual
            assert multi_reads == 1
            broken = True
            if breakage == "answer":
                def broken(cls, buf, offset):   # noqa: ANN001
                    raise struct.error("unpack_from requires a buffer of at least 12 bytes")
                monkeypatch.setattr(zk_session._MultiRead, "deserialize", classmethod(broken))

            with caplog.at_level("WARNING", logger=zk_session.__name__):
                assert await s.get_versioned_many(wanted) == versioned
            assert multi_reads == 2
            assert "multiRead turned off" in caplog.text
            assert await s.get_many(wanted, small=True) == one_by_one
            assert await s.get_versioned_many(wanted) == versioned
            assert multi_reads == 2   # not tried again
