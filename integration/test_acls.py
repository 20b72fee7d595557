"""ZooKeeper-stored ACLs end to end: a broker with Kafka's AclAuthorizer, kafka-acls.sh both
ways in, and confluent-kafka (librdkafka) as the client that gets denied and then allowed.

On a PLAINTEXT listener every client is ``User:ANONYMOUS``. With
``allow.everyone.if.no.acl.found=false`` nothing is allowed until ``kafka-acls.sh`` adds ACLs
to ZooKeeper; the broker picks each change up from the change notification while it runs.
"""

from __future__ import annotations

import json
import time
import uuid

from kafkalite.testing.processes import run_script, wait_for

AUTHORIZER = {"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
              "allow.everyone.if.no.acl.found": "false",
              "offsets.topic.num.partitions": 2}
TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED = 29, 30


def acls(zk_connect: str, *args: str) -> str:
    rc, out, err = run_script("kafka-acls.sh", "--authorizer-properties",
                              f"zookeeper.connect={zk_connect}", *args)
    assert rc == 0, err + out
    return out


def produce(bootstrap: str, topic: str, value: bytes = b"v", **config):
    """Produce one message; the delivery error (None on success)."""
    from confluent_kafka import Producer

    outcome = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                  "message.timeout.ms": 8000, "enable.idempotence": False, **config})
    p.produce(topic, value, on_delivery=lambda err, msg: outcome.append(err))
    p.flush(20)
    assert outcome, "no delivery report"
    return outcome[0]


def eventually_produces(bootstrap: str, topic: str, value: bytes = b"v", **config) -> None:
    """ACL changes reach the broker through a ZooKeeper watch: retry for a few seconds."""
    def ok():
        return produce(bootstrap, topic, value, **config) is None
    wait_for(ok, 30, f"produce to {topic} to be allowed", interval=0.5)


def eventually_denied(bootstrap: str, topic: str) -> None:
    def denied():
        err = produce(bootstrap, topic)
        return err is not None and err.code() == TOPIC_AUTHORIZATION_FAILED
    wait_for(denied, 30, f"produce to {topic} to be denied", interval=0.5)


def consume(bootstrap: str, topic: str, group: str, want: int, timeout: float = 30
            ) -> tuple[list[bytes], set[int]]:
    """Subscribe as ``group``; (values read, error codes seen) once ``want`` values arrived,
    or an authorization error showed up, or ``timeout`` passed."""
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    values, codes = [], set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(values) < want:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                codes.add(msg.error().code())
                if codes & {TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED}:
                    break
                continue
            values.append(msg.value())
        if len(values) >= want:
            c.commit(asynchronous=False)
    finally:
        c.close()
    return values, codes


def test_acls_gate_produce_and_consume(broker_factory, zk_connect, kazoo_client):
    broker = broker_factory(0, props=AUTHORIZER)
    bs = broker.bootstrap
    rc, _, err = run_script("kafka-topics.sh", "--zookeeper", zk_connect, "--create",
                            "--topic", "t", "--partitions", "1", "--replication-factor", "1")
    assert rc == 0, err

    # No ACL at all: everything is denied, with Kafka's error codes.
    err = produce(bs, "t")
    assert err is not None and err.code() == TOPIC_AUTHORIZATION_FAILED, err
    _, codes = consume(bs, "t", "g", 1, timeout=20)
    assert GROUP_AUTHORIZATION_FAILED in codes, codes

    # --producer: Write, Describe, Create on the topic.
    out = acls(zk_connect, "--add", "--allow-principal", "User:ANONYMOUS", "--producer",
               "--topic", "t")
    assert out.startswith(
        "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, "
        "patternType=LITERAL)`: \n \t(principal=User:ANONYMOUS, host=*, operation=WRITE, "
        "permissionType=ALLOW)\n")
    assert "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, " \
           "patternType=LITERAL)`:" in out
    stored = json.loads(kazoo_client.get("/kafka-acl/Topic/t")[0])
    assert stored["version"] == 1 and {(a["operation"], a["permissionType"]) for a in
                                       stored["acls"]} == {("Write", "Allow"),
                                                           ("Describe", "Allow"),
                                                           ("Create", "Allow")}
    changes = kazoo_client.get_children("/kafka-acl-changes")
    assert b"TOPIC:t" in {kazoo_client.get(f"/kafka-acl-changes/{c}")[0] for c in changes}
    for i in range(3):
        eventually_produces(bs, "t", f"m{i}".encode())

    # Reading needs Read on the group, then Read on the topic.
    _, codes = consume(bs, "t", "g", 1, timeout=20)
    assert GROUP_AUTHORIZATION_FAILED in codes, codes
    acls(zk_connect, "--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Read",
         "--group", "g")
    codes = wait_for(lambda: consume(bs, "t", "g", 1, timeout=10)[1] - {
        GROUP_AUTHORIZATION_FAILED}, 30, "the group ACL to apply")
    assert TOPIC_AUTHORIZATION_FAILED in codes, codes
    acls(zk_connect, "--add", "--allow-principal", "User:ANONYMOUS", "--consumer",
         "--topic", "t", "--group", "g")
    values = wait_for(lambda: consume(bs, "t", "g", 3, timeout=15)[0], 60,
                      "the consumer to read t")
    assert values[:3] == [b"m0", b"m1", b"m2"]

    # A DENY beats the ALLOW on the same topic.
    acls(zk_connect, "--add", "--deny-principal", "User:ANONYMOUS", "--operation", "Write",
         "--topic", "t")
    eventually_denied(bs, "t")

    # PREFIXED ACLs cover every topic starting with the prefix (auto-created: Create is in).
    acls(zk_connect, "--add", "--allow-principal", "User:ANONYMOUS", "--producer",
         "--topic", "pre-", "--resource-pattern-type", "prefixed")
    assert kazoo_client.exists("/kafka-acl-extended/prefixed/Topic/pre-")
    notes = [json.loads(kazoo_client.get(f"/kafka-acl-extended-changes/{c}")[0])
             for c in kazoo_client.get_children("/kafka-acl-extended-changes")]
    assert {"version": 1, "resourceType": "TOPIC", "name": "pre-",
            "patternType": "PREFIXED"} in notes
    eventually_produces(bs, "pre-orders")
    err = produce(bs, "other")
    assert err is not None and err.code() == TOPIC_AUTHORIZATION_FAILED, err

    # --list with a MATCH filter shows every pattern that applies to a topic.
    out = acls(zk_connect, "--list", "--topic", "pre-orders", "--resource-pattern-type", "match")
    assert "name=pre-, patternType=PREFIXED" in out and "name=t," not in out

    # --remove drops the deny; writing works again.
    acls(zk_connect, "--remove", "--force", "--deny-principal", "User:ANONYMOUS",
         "--operation", "Write", "--topic", "t")
    eventually_produces(bs, "t", b"m3")
    out = acls(zk_connect, "--list", "--topic", "t")
    assert "permissionType=DENY" not in out


def test_super_user_and_the_acl_apis(broker_factory, zk_connect, kazoo_client):
    broker = broker_factory(0, props={**AUTHORIZER, "super.users": "User:admin;User:ANONYMOUS"})
    bs = broker.bootstrap
    # super.users bypasses the ACLs: auto-create, produce, consume with a group.
    assert produce(bs, "anything", b"x") is None
    values, codes = consume(bs, "anything", f"g-{uuid.uuid4().hex[:6]}", 1)
    assert values == [b"x"], codes

    # kafka-acls.sh --bootstrap-server: CreateAcls / DescribeAcls / DeleteAcls.
    base = ["--bootstrap-server", bs]
    rc, out, err = run_script("kafka-acls.sh", *base, "--add", "--allow-principal",
                              "User:bob", "--operation", "Read", "--group", "grp",
                              "--resource-pattern-type", "prefixed")
    assert rc == 0, err + out
    assert "Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=grp, " \
           "patternType=PREFIXED)`: \n \t(principal=User:bob, host=*, operation=READ, " \
           "permissionType=ALLOW) \n" in out
    stored = json.loads(kazoo_client.get("/kafka-acl-extended/prefixed/Group/grp")[0])
    assert stored == {"version": 1, "acls": [{"principal": "User:bob",
                                              "permissionType": "Allow",
                                              "operation": "Read", "host": "*"}]}
    rc, out, _ = run_script("kafka-acls.sh", *base, "--list", "--principal", "User:bob")
    assert rc == 0 and out.startswith("ACLs for principal `User:bob`\n") and "name=grp" in out
    rc, out, err = run_script("kafka-acls.sh", *base, "--remove", "--force", "--group", "grp",
                              "--resource-pattern-type", "prefixed")
    assert rc == 0, err + out
    wait_for(lambda: not kazoo_client.exists("/kafka-acl-extended/prefixed/Group/grp"), 10,
             "the emptied ACL znode to go")

    # librdkafka's AdminClient speaks the same APIs
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, AdminClient, ResourcePatternType,
                                       ResourceType)
    admin = AdminClient({"bootstrap.servers": bs})
    good = AclBinding(ResourceType.TOPIC, "t", ResourcePatternType.PREFIXED, "User:carol", "*",
                      AclOperation.WRITE, AclPermissionType.ALLOW)
    bad = AclBinding(ResourceType.BROKER, "nope", ResourcePatternType.LITERAL, "User:carol",
                     "*", AclOperation.ALTER, AclPermissionType.ALLOW)
    futures = admin.create_acls([good, bad], request_timeout=20)
    assert futures[good].result() is None
    try:
        futures[bad].result()
        raise AssertionError("a CLUSTER ACL not named kafka-cluster was accepted")
    except Exception as e:  # noqa: BLE001 - librdkafka wraps the KafkaError
        assert "INVALID_REQUEST" in str(e) or "42" in str(e), e
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    assert admin.describe_acls(everything, request_timeout=20).result() == [good]
    assert admin.delete_acls([everything], request_timeout=20)[everything].result() == [good]
    assert admin.describe_acls(everything, request_timeout=20).result() == []
    del admin


def test_without_an_authorizer_the_acl_apis_are_disabled(broker_factory):
    broker = broker_factory(0)
    rc, out, _ = run_script("kafka-acls.sh", "--bootstrap-server", broker.bootstrap, "--list")
    assert rc == 1
    assert out.strip() == ("Error while executing ACL command: SECURITY_DISABLED: No "
                           "Authorizer is configured on the broker")
    assert produce(broker.bootstrap, "free", b"x") is None    # and nothing is enforced
