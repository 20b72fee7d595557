"""``zookeeper.set.acl=true`` end to end on a real ZooKeeper: brokers and tools take their
identity from the JAAS ``Client`` section named by ``KAFKA_OPTS`` (ZooKeeper digest scheme),
the znodes they create carry Kafka's ACLs (creator all + world read; creator only under
``/config/users``), and a process without that identity can read but not change the cluster's
metadata, and cannot read SCRAM credentials at all."""

from __future__ import annotations

import json
import time

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl_credential

from kafkalite.testing.processes import run_script as run

USER, PASSWORD = "kafka", "kafka-zk-secret"


@pytest.fixture
def kafka_opts(tmp_path) -> dict[str, str]:
    jaas = tmp_path / "kafka_jaas.conf"
    jaas.write_text("Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                    f'  username="{USER}"\n  password="{PASSWORD}";\n}};\n')
    return {"KAFKA_OPTS": f"-Djava.security.auth.login.config={jaas}"}


@pytest.fixture
def insider(zookeeper, zk_chroot, kazoo_client):
    """A kazoo client with the brokers' identity: ZooKeeper shows digest hashes in ACLs only
    to a session allowed to administer the node (others see ``kafka:x``)."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=f"{zookeeper.hosts}{zk_chroot}",
                         auth_data=[("digest", f"{USER}:{PASSWORD}")])
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def acl_entries(client, path: str) -> list[tuple[str, str, int]]:
    acls, _ = client.get_acls(path)
    return sorted((a.id.scheme, a.id.id, a.perms) for a in acls)


DIGEST_ID = make_digest_acl_credential(USER, PASSWORD)
CREATOR_ALL_WORLD_READ = sorted([("digest", DIGEST_ID, 31), ("world", "anyone", 1)])
CREATOR_ALL = [("digest", DIGEST_ID, 31)]


def produce_and_consume(bootstrap: str, topic: str, n: int = 20) -> list[bytes]:
    from confluent_kafka import Consumer, Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(n):
        p.produce(topic, f"m{i}".encode())
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-acl",
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got: list[bytes] = []
    try:
        for _ in range(200):
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
            if len(got) >= n:
                break
    finally:
        c.close()
    return got


def test_secure_znodes_with_the_jaas_client_identity(broker_factory, kazoo_client, insider,
                                                     zk_connect, kafka_opts, tmp_path):
    broker = broker_factory(0, env=kafka_opts, props={
        "zookeeper.set.acl": "true", "allow.everyone.if.no.acl.found": "true",
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"})

    # Kafka's ACLs on what the broker created at start-up ...
    for path in ("/brokers/ids/0", "/brokers/topics", "/controller", "/cluster/id",
                 "/config/changes", "/admin/delete_topics", "/kafka-acl/Topic",
                 "/kafka-acl-extended/prefixed/Group", "/kafka-acl-changes"):
        assert acl_entries(insider, path) == CREATOR_ALL_WORLD_READ, path
    assert acl_entries(insider, "/config/users") == CREATOR_ALL
    assert acl_entries(insider, "/consumers") == [("world", "anyone", 31)]

    # ... and on what the tools create with the same identity; the broker acts on it.
    rc, out, err = run("kafka-topics.sh", "--zookeeper", zk_connect, "--create", "--topic",
                       "secured", "--partitions", "2", "--replication-factor", "1",
                       env=kafka_opts)
    assert rc == 0, err
    assert acl_entries(insider, "/brokers/topics/secured") == CREATOR_ALL_WORLD_READ
    assert sorted(produce_and_consume(broker.bootstrap, "secured")) == sorted(
        f"m{i}".encode() for i in range(20))
    state = "/brokers/topics/secured/partitions/0/state"
    assert acl_entries(insider, state) == CREATOR_ALL_WORLD_READ

    rc, out, err = run("kafka-configs.sh", "--zookeeper", zk_connect, "--alter",
                       "--add-config", "SCRAM-SHA-256=[iterations=4096,password=alice-pw]",
                       "--entity-type", "users", "--entity-name", "alice", env=kafka_opts)
    assert rc == 0, err
    assert acl_entries(insider, "/config/users/alice") == CREATOR_ALL
    # The broker (same identity) reads the creator-only credential and applied it live.
    rc, out, err = run("kafka-configs.sh", "--bootstrap-server", broker.bootstrap,
                       "--describe", "--entity-type", "users", "--entity-name", "alice")
    assert rc == 0, err
    assert "SCRAM-SHA-256=iterations=4096" in out

    # An outsider (no identity) reads metadata but cannot change it or read credentials.
    assert json.loads(kazoo_client.get("/brokers/topics/secured")[0])["partitions"]
    with pytest.raises(NoAuthError):
        kazoo_client.set("/brokers/topics/secured", b"{}")
    with pytest.raises(NoAuthError):
        kazoo_client.create("/brokers/topics/evil", b"{}")
    with pytest.raises(NoAuthError):
        kazoo_client.create("/admin/delete_topics/secured")
    with pytest.raises(NoAuthError):
        kazoo_client.get("/config/users/alice")

    # A tool without the identity fails with a clear message, not a traceback.
    rc, out, err = run("kafka-topics.sh", "--zookeeper", zk_connect, "--create", "--topic",
                       "sneaky", "--partitions", "1", "--replication-factor", "1",
                       env={"KAFKA_OPTS": None})
    assert rc != 0 and "Traceback" not in err, err
    assert "NOAUTH" in err and "zookeeper.set.acl" in err
    assert kazoo_client.exists("/brokers/topics/sneaky") is None
    reassignment = tmp_path / "reassign.json"
    reassignment.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "secured", "partition": 0, "replicas": [0]}]}))
    for tool, *args in (
            ("kafka-topics.sh", "--zookeeper", zk_connect, "--delete", "--topic", "secured"),
            ("kafka-configs.sh", "--zookeeper", zk_connect, "--alter", "--add-config",
             "retention.ms=1000", "--entity-type", "topics", "--entity-name", "secured"),
            ("kafka-reassign-partitions.sh", "--zookeeper", zk_connect, "--execute",
             "--reassignment-json-file", str(reassignment)),
            ("kafka-preferred-replica-election.sh", "--zookeeper", zk_connect)):
        rc, out, err = run(tool, *args, env={"KAFKA_OPTS": None})
        assert rc != 0 and "Traceback" not in err and "NOAUTH" in err + out, (tool, out, err)
    # kafka-acls reports a refused ACL and carries on, exactly as Kafka's AclCommand does.
    rc, out, err = run("kafka-acls.sh", "--authorizer-properties",
                       f"zookeeper.connect={zk_connect}", "--add", "--allow-principal",
                       "User:eve", "--operation", "Read", "--topic", "x",
                       env={"KAFKA_OPTS": None})
    assert "Error while adding ACLs" in out and "NOAUTH" in out and "Traceback" not in err
    assert kazoo_client.exists("/kafka-acl/Topic/x") is None
    assert kazoo_client.exists("/brokers/topics/secured") is not None

    # zookeeper-shell shows the ACLs in ZooKeeper's format and honours the identity.
    rc, out, err = run("zookeeper-shell.sh", zk_connect, "getAcl", "/config/users/alice",
                       env=kafka_opts)
    assert rc == 0, err
    assert out.split("\n")[:2] == [f"'digest,'{DIGEST_ID}", ": cdrwa"]
    rc, out, err = run("zookeeper-shell.sh", zk_connect, "get", "/config/users/alice",
                       env={"KAFKA_OPTS": None})
    assert rc != 0 and "Insufficient permission : /config/users/alice" in err + out

    # Deleting through the tool with the identity works, and the broker completes it.
    rc, out, err = run("kafka-topics.sh", "--zookeeper", zk_connect, "--delete", "--topic",
                       "secured", env=kafka_opts)
    assert rc == 0, err
    for _ in range(300):
        if kazoo_client.exists("/brokers/topics/secured") is None:
            break
        time.sleep(0.1)
    assert kazoo_client.exists("/brokers/topics/secured") is None


def test_set_acl_without_an_identity_refuses_to_start(broker_factory, tmp_path):
    broker = broker_factory(0, wait=False, props={"zookeeper.set.acl": "true"},
                            env={"KAFKA_OPTS": ""})
    assert broker.proc.wait(60) != 0
    log = broker.log_tail()
    assert "zookeeper.set.acl is true, but ZooKeeper client TLS configuration" in log
    assert "the verification of the JAAS login file failed: no JAAS file" in log


def test_identity_without_set_acl_leaves_znodes_open(broker_factory, kazoo_client, kafka_opts):
    broker_factory(0, env=kafka_opts)
    assert acl_entries(kazoo_client, "/brokers/topics") == [("world", "anyone", 31)]
    data, _ = kazoo_client.get("/cluster/id")
    kazoo_client.set("/cluster/id", data)   # open: nobody is locked out
