"""The controller in a real three-broker cluster: partitions added through ZooKeeper, controlled
shutdown, preferred election and reassignment through the legacy admin znodes.

Brokers are real processes (``broker_factory``), requests between them go over the Kafka
protocol, replication is real (followers fetch; leaders grow and shrink ISRs in ZooKeeper).
The test reads ZooKeeper as an outside observer (``kazoo_client``) and the cluster metadata
with librdkafka. ``test_controller_zk.py`` pins the same algorithms in-process.
"""

from __future__ import annotations

import json

import pytest
import trio

from kafkalite.testing.processes import wait_for

pytestmark = [pytest.mark.zk, pytest.mark.slow]

PROPS = {"zookeeper.session.timeout.ms": 4000, "auto.leader.rebalance.enable": "false",
         "replica.lag.time.max.ms": 10000, "controlled.shutdown.retry.backoff.ms": 500}
TIMEOUT = 60


def start_cluster(broker_factory, props=None):
    return [broker_factory(i, props={**PROPS, **(props or {})}) for i in range(3)]


def write_json(kazoo_client, path: str, obj, *, version: int | None = None) -> None:
    data = json.dumps(obj).encode()
    if version is None:
        kazoo_client.create(path, data, makepath=True)
    else:
        kazoo_client.set(path, data, version=version)


def create_topic_in_zk(kazoo_client, topic: str, assignment: dict[int, list[int]]) -> None:
    """What ``kafka-topics.sh --zookeeper --create`` writes (config first, §6.8)."""
    write_json(kazoo_client, f"/config/topics/{topic}", {"version": 1, "config": {}})
    write_json(kazoo_client, f"/brokers/topics/{topic}", {
        "version": 1, "partitions": {str(p): r for p, r in assignment.items()}})


def state(kazoo_client, topic: str, p: int) -> dict | None:
    path = f"/brokers/topics/{topic}/partitions/{p}/state"
    if not kazoo_client.exists(path):
        return None
    return json.loads(kazoo_client.get(path)[0])


def assignment(kazoo_client, topic: str) -> dict:
    return json.loads(kazoo_client.get(f"/brokers/topics/{topic}")[0])


def controller_id(kazoo_client) -> int:
    return wait_for(lambda: kazoo_client.exists("/controller") and
                    json.loads(kazoo_client.get("/controller")[0])["brokerid"] + 1,
                    TIMEOUT, "a controller") - 1


def wait_in_sync(kazoo_client, topic: str, partitions: dict[int, list[int]]) -> None:
    """Every partition has a leader and all its replicas in the ISR."""
    def ok():
        for p, replicas in partitions.items():
            st = state(kazoo_client, topic, p)
            if st is None or st["leader"] < 0 or sorted(st["isr"]) != sorted(replicas):
                return False
        return True

    wait_for(ok, TIMEOUT, f"{topic} fully in sync")


def client_metadata(bootstrap: str, topic: str):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic, timeout=10)
    del admin
    return md.topics[topic]


def produce(bootstrap: str, topic: str, n: int, partition: int = 0) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    failed = []
    for i in range(n):
        p.produce(topic, f"m{i}".encode(), partition=partition,
                  on_delivery=lambda err, _msg: err and failed.append(err))
    assert p.flush(TIMEOUT) == 0
    assert not failed, failed


def consume(bootstrap: str, topic: str, n: int, partition: int = 0) -> list[bytes]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, partition, 0)])
    out = []
    try:
        def got_all():
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                out.append(msg.value())
            return len(out) >= n

        wait_for(got_all, TIMEOUT, f"{n} messages from {topic}")
    finally:
        c.close()
    return out


def test_partitions_added_in_zookeeper_come_online_under_a_new_controller(
        broker_factory, kazoo_client):
    brokers = start_cluster(broker_factory)
    create_topic_in_zk(kazoo_client, "grow", {0: [0, 1], 1: [1, 2]})
    wait_in_sync(kazoo_client, "grow", {0: [0, 1], 1: [1, 2]})
    # The topic predates the next controller: it must watch topics it found at failover.
    old = controller_id(kazoo_client)
    brokers[old].stop()
    wait_for(lambda: controller_id(kazoo_client) != old, TIMEOUT, "a new controller")
    live = [b for b in range(3) if b != old]

    data, stat = kazoo_client.get("/brokers/topics/grow")
    js = json.loads(data)
    js["partitions"].update({"2": live, "3": live[::-1]})
    write_json(kazoo_client, "/brokers/topics/grow", js, version=stat.version)

    wait_for(lambda: all(state(kazoo_client, "grow", p) for p in (2, 3)), TIMEOUT,
             "states of the added partitions")
    s3 = state(kazoo_client, "grow", 3)
    assert (s3["leader"], s3["leader_epoch"], sorted(s3["isr"])) == (live[1], 0, sorted(live))
    bootstrap = brokers[live[0]].bootstrap
    wait_for(lambda: len(client_metadata(bootstrap, "grow").partitions) == 4, TIMEOUT,
             "metadata with four partitions")
    assert client_metadata(bootstrap, "grow").partitions[3].leader == live[1]
    produce(bootstrap, "grow", 5, partition=3)
    assert consume(bootstrap, "grow", 5, partition=3) == [f"m{i}".encode() for i in range(5)]


async def _controlled_shutdown(host: str, port: int, broker_id: int, broker_epoch: int):
    from kafkalite.client.connection import BrokerConnection
    from kafkalite.protocol.messages.controlled_shutdown import ControlledShutdownRequest

    conn = await BrokerConnection.open(host, port)
    try:
        with trio.fail_after(30):
            return await conn.request(
                ControlledShutdownRequest(broker_id=broker_id, broker_epoch=broker_epoch), 3)
    finally:
        await conn.aclose()


def test_controlled_shutdown_moves_leadership_before_the_broker_leaves(
        broker_factory, kazoo_client):
    brokers = start_cluster(broker_factory)
    parts = {0: [0, 1, 2], 1: [1, 2, 0], 2: [2, 0, 1]}
    create_topic_in_zk(kazoo_client, "cs", parts)
    wait_in_sync(kazoo_client, "cs", parts)
    ctl = controller_id(kazoo_client)
    victim = (ctl + 1) % 3
    other = (ctl + 2) % 3
    led = [p for p in parts if state(kazoo_client, "cs", p)["leader"] == victim]
    assert led
    epoch = kazoo_client.exists(f"/brokers/ids/{victim}").czxid

    def ask(target: int, broker_epoch: int):
        b = brokers[target]
        return trio.run(_controlled_shutdown, b.host, b.port, victim, broker_epoch)

    assert ask(other, epoch).error_code == 41                  # NOT_CONTROLLER
    assert ask(ctl, epoch - 1).error_code == 77                # STALE_BROKER_EPOCH
    resp = ask(ctl, epoch)
    assert (resp.error_code, resp.remaining_partitions) == (0, ())
    # The victim is still registered: this is the controlled path, not failure handling.
    assert kazoo_client.exists(f"/brokers/ids/{victim}")
    for p in parts:
        st = state(kazoo_client, "cs", p)
        assert st["leader"] != victim, (p, st)
        if p not in led:
            # It followed here: out of the ISR and told to stop fetching. (Where it led, it
            # is a follower now and may catch up and rejoin the ISR, as in Kafka 2.x.)
            assert victim not in st["isr"], (p, st)
    assert all(state(kazoo_client, "cs", p)["leader_epoch"] == 1 for p in led)

    brokers[victim].stop()
    assert "Controlled shutdown succeeded" in brokers[victim].log_path.read_text()
    bootstrap = brokers[ctl].bootstrap
    wait_for(lambda: all(pm.leader != victim for pm in
                         client_metadata(bootstrap, "cs").partitions.values()),
             TIMEOUT, "metadata without the stopped broker as leader")
    produce(bootstrap, "cs", 5, partition=led[0])


def test_preferred_replica_election_through_the_znode(broker_factory, kazoo_client):
    brokers = start_cluster(broker_factory)
    ctl = controller_id(kazoo_client)
    preferred, other = (ctl + 1) % 3, (ctl + 2) % 3
    create_topic_in_zk(kazoo_client, "pe", {0: [preferred, other]})
    wait_in_sync(kazoo_client, "pe", {0: [preferred, other]})
    produce(brokers[ctl].bootstrap, "pe", 10)
    brokers[preferred].stop()
    wait_for(lambda: state(kazoo_client, "pe", 0)["leader"] == other, TIMEOUT,
             "leadership on the other replica")
    brokers[preferred].start()
    wait_in_sync(kazoo_client, "pe", {0: [preferred, other]})   # caught up again
    assert state(kazoo_client, "pe", 0)["leader"] == other

    write_json(kazoo_client, "/admin/preferred_replica_election",
               {"version": 1, "partitions": [{"topic": "pe", "partition": 0}]})
    wait_for(lambda: state(kazoo_client, "pe", 0)["leader"] == preferred, TIMEOUT,
             "preferred leader back")
    wait_for(lambda: not kazoo_client.exists("/admin/preferred_replica_election"), TIMEOUT,
             "the trigger znode deleted")
    bootstrap = brokers[ctl].bootstrap
    wait_for(lambda: client_metadata(bootstrap, "pe").partitions[0].leader == preferred,
             TIMEOUT, "metadata with the preferred leader")
    assert consume(bootstrap, "pe", 10) == [f"m{i}".encode() for i in range(10)]


def test_reassignment_through_the_znode_moves_the_data(broker_factory, kazoo_client):
    brokers = start_cluster(broker_factory)
    create_topic_in_zk(kazoo_client, "ra", {0: [0, 1]})
    wait_in_sync(kazoo_client, "ra", {0: [0, 1]})
    produce(brokers[0].bootstrap, "ra", 20)

    write_json(kazoo_client, "/admin/reassign_partitions", {"version": 1, "partitions": [
        {"topic": "ra", "partition": 0, "replicas": [2, 1]}]})
    wait_for(lambda: not kazoo_client.exists("/admin/reassign_partitions"), TIMEOUT,
             "reassignment completed (trigger znode deleted)")
    a = assignment(kazoo_client, "ra")
    assert a["partitions"] == {"0": [2, 1]}
    assert a.get("adding_replicas", {}) == {} and a.get("removing_replicas", {}) == {}
    st = state(kazoo_client, "ra", 0)
    assert st["leader"] in (1, 2) and set(st["isr"]) <= {1, 2}
    wait_for(lambda: not (brokers[0].log_dir / "ra-0").exists(), TIMEOUT,
             "the removed replica's log deleted")
    assert (brokers[2].log_dir / "ra-0").exists()
    bootstrap = brokers[2].bootstrap
    wait_for(lambda: sorted(client_metadata(bootstrap, "ra").partitions[0].replicas) == [1, 2],
             TIMEOUT, "metadata with the new replicas")
    assert consume(bootstrap, "ra", 20) == [f"m{i}".encode() for i in range(20)]
