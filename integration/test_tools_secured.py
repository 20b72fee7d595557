"""The command-line tools against a broker reachable only over SASL_SSL, as a Kafka user runs
them: with the client properties file each of Kafka's tools takes (``--command-config``,
``--admin.config``, ``--producer.config``, ``--consumer.config``).

The broker's one listener is SASL_SSL with SCRAM-SHA-512 (TLS with host name verification) and
serves clients and the inter-broker traffic alike: the broker logs in to it as ``admin``, the
super user, so its controller requests to itself pass the authorizer without making
``User:ANONYMOUS`` a super user. ``alice`` has no ACLs until kafka-acls.sh grants her some.
SCRAM users are created in ZooKeeper before the broker starts, as a Kafka operator does.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest

from kafkalite.cli.cluster import BrokerProcess, free_port
from kafkalite.cli.dev_pki import make_pki
from kafkalite.testing.processes import run_script, wait_for

USERS = {"admin": "admin-secret", "alice": "alice-secret"}


def jaas(user: str, password: str) -> str:
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{user}" password="{password}";')


class Secured:
    """The running broker and the properties files of its users."""

    def __init__(self, broker: BrokerProcess, directory, ca: str):
        self.broker = broker
        self.bootstrap = broker.bootstrap
        self.directory = directory
        self.ca = ca

    def properties(self, name: str, **overrides: str | None) -> str:
        """Write ``<name>.properties`` for a SASL_SSL client; a None value leaves the key out."""
        props = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                 "ssl.truststore.type": "PEM", "ssl.truststore.location": self.ca}
        props.update(overrides)
        path = self.directory / f"{name}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items() if v is not None))
        return str(path)

    def user(self, name: str, password: str | None = None) -> str:
        """``<name>.properties``, or ``<name>-wrong.properties`` with another password."""
        return self.properties(name if password is None else f"{name}-wrong",
                               **{"sasl.jaas.config": jaas(name, password or USERS[name])})


@pytest.fixture(scope="module")
def secured(zookeeper, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tools-secured")
    pki = make_pki(workdir / "pki")
    chroot = f"/tools-secured-{uuid.uuid4().hex[:8]}"
    zk_connect = f"{zookeeper.hosts}{chroot}"
    for user, password in USERS.items():
        rc, out, err = run_script(
            "kafka-configs.sh", "--zookeeper", zk_connect, "--alter", "--add-config",
            f"SCRAM-SHA-512=[password={password}]", "--entity-type", "users",
            "--entity-name", user)
        assert rc == 0, out + err
    port = free_port()
    broker = BrokerProcess(broker_id=0, zk_connect=zk_connect, workdir=workdir / "broker",
                           port=port, overrides={
        "listeners": f"SASL_SSL://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas("admin", USERS["admin"]),
        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.broker_keystore),
        "ssl.key.password": pki.broker_key_password,
        "ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca),
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin",
        "zookeeper.session.timeout.ms": 6000, "num.partitions": 1,
        "offsets.topic.replication.factor": 1, "offsets.topic.num.partitions": 2,
        "transaction.state.log.replication.factor": 1, "transaction.state.log.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
    })
    broker.start(wait=False)    # wait_ready speaks PLAINTEXT: wait for ZooKeeper and TCP
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=zookeeper.hosts)
    zk.start(timeout=15)
    try:
        def up() -> bool:
            assert broker.proc.poll() is None, broker.log_tail()
            return zk.exists(f"{chroot}/brokers/ids/0") is not None and _accepts(port)
        wait_for(up, 60, "the broker to register and listen")
    finally:
        zk.stop()
        zk.close()
    try:
        yield Secured(broker, workdir, str(pki.ca))
    finally:
        broker.stop()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def ok(name: str, *args: str, input: bytes | None = None) -> str:
    rc, out, err = run_script(name, *args, input=input)
    assert rc == 0, f"{name} {' '.join(args)}: {rc}\n{out}\n{err}"
    assert "Traceback" not in err, err
    return out


def one_error_line(rc: int, out: str, err: str) -> str:
    """The failure of a tool: non-zero status, no traceback, one line (ignoring the
    console consumer's closing count)."""
    assert rc != 0, out + err
    assert "Traceback" not in out + err, out + err
    lines = [line for line in (out + err).splitlines()
             if line.strip() and not line.startswith("Processed a total of")]
    assert len(lines) == 1, lines
    return lines[0]


def produce(secured: Secured, topic: str, values: list[str], config: str) -> None:
    ok("kafka-console-producer.sh", "--bootstrap-server", secured.bootstrap, "--topic", topic,
       "--producer.config", config, input="".join(v + "\n" for v in values).encode())


def consume(secured: Secured, topic: str, count: int, *args: str) -> list[str]:
    out = ok("kafka-console-consumer.sh", "--bootstrap-server", secured.bootstrap, "--topic",
             topic, "--from-beginning", "--max-messages", str(count), "--timeout-ms", "20000",
             *args)
    return sorted(out.split())


# -- an operator's session, as the super user --------------------------------------------------

def test_admin_tools_with_their_properties_files(secured):
    admin, b = secured.user("admin"), ("--bootstrap-server", secured.bootstrap)
    assert ok("kafka-topics.sh", *b, "--command-config", admin, "--create", "--topic", "orders",
              "--partitions", "2", "--replication-factor", "1") == "Created topic orders.\n"
    assert "orders" in ok("kafka-topics.sh", *b, "--command-config", admin, "--list").split()
    described = ok("kafka-topics.sh", *b, "--command-config", admin, "--describe", "--topic",
                   "orders")
    assert "PartitionCount: 2" in described and "Partition: 1\tLeader: 0" in described

    ok("kafka-configs.sh", *b, "--command-config", admin, "--alter", "--entity-type", "topics",
       "--entity-name", "orders", "--add-config", "retention.ms=86400000")
    assert "retention.ms=86400000" in ok("kafka-configs.sh", *b, "--command-config", admin,
                                         "--describe", "--entity-type", "topics",
                                         "--entity-name", "orders")

    produce(secured, "orders", ["o1", "o2", "o3"], admin)
    assert consume(secured, "orders", 3, "--consumer.config", admin, "--group",
                   "billing") == ["o1", "o2", "o3"]

    assert "billing" in ok("kafka-consumer-groups.sh", *b, "--command-config", admin,
                           "--list").split()
    described = ok("kafka-consumer-groups.sh", *b, "--command-config", admin, "--describe",
                   "--group", "billing")
    rows = [line.split() for line in described.splitlines() if line.startswith("billing ")]
    assert sorted(r[2] for r in rows) == ["0", "1"]          # PARTITION
    assert sum(int(r[3]) for r in rows) == 3                   # CURRENT-OFFSET

    assert ok("kafka-transactions.sh", *b, "--command-config", admin, "list").startswith(
        "TransactionalId")
    log_dirs = ok("kafka-log-dirs.sh", *b, "--command-config", admin, "--describe",
                  "--topic-list", "orders").splitlines()
    report = json.loads(log_dirs[-1])
    assert sorted(p["partition"] for d in report["brokers"][0]["logDirs"]
                  for p in d["partitions"]) == ["orders-0", "orders-1"]

    assert "Valid replica already elected for partitions orders-0" in ok(
        "kafka-leader-election.sh", *b, "--admin.config", admin, "--election-type", "preferred",
        "--topic", "orders", "--partition", "0")
    ok("kafka-preferred-replica-election.sh", *b, "--admin.config", admin)
    assert "No partition reassignments found." in ok(
        "kafka-reassign-partitions.sh", *b, "--command-config", admin, "--list")


def test_delete_records_with_command_config(secured, tmp_path):
    admin, b = secured.user("admin"), ("--bootstrap-server", secured.bootstrap)
    ok("kafka-topics.sh", *b, "--command-config", admin, "--create", "--topic", "trim",
       "--partitions", "1", "--replication-factor", "1")
    produce(secured, "trim", ["t1", "t2", "t3"], admin)
    offsets = tmp_path / "offsets.json"
    offsets.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "trim", "partition": 0, "offset": 2}]}))
    out = ok("kafka-delete-records.sh", *b, "--command-config", admin, "--offset-json-file",
             str(offsets))
    assert "partition: trim-0\tlow_watermark: 2" in out
    assert consume(secured, "trim", 1, "--consumer.config", admin) == ["t3"]


def test_consumer_property_overrides_the_file(secured):
    """Kafka's precedence: --consumer-property over --consumer.config."""
    admin, b = secured.user("admin"), ("--bootstrap-server", secured.bootstrap)
    wrong = secured.user("admin", password="not-the-password")
    ok("kafka-topics.sh", *b, "--command-config", admin, "--create", "--topic", "override",
       "--partitions", "1", "--replication-factor", "1")
    produce(secured, "override", ["v1", "v2"], admin)
    assert consume(secured, "override", 2, "--consumer.config", wrong, "--consumer-property",
                   f"sasl.jaas.config={jaas('admin', USERS['admin'])}") == ["v1", "v2"]
    # and the file alone really is wrong
    line = one_error_line(*run_script("kafka-console-consumer.sh", *b, "--topic", "override",
                                      "--from-beginning", "--max-messages", "2",
                                      "--consumer.config", wrong))
    assert "authentication failed" in line.lower(), line


# -- ACLs over the secured listener --------------------------------------------------------------

def test_acls_added_over_sasl_ssl_let_alice_consume(secured):
    admin, alice = secured.user("admin"), secured.user("alice")
    b = ("--bootstrap-server", secured.bootstrap)
    ok("kafka-topics.sh", *b, "--command-config", admin, "--create", "--topic", "payments",
       "--partitions", "1", "--replication-factor", "1")
    produce(secured, "payments", ["p1", "p2"], admin)
    # without ACLs alice does not even see the topic
    assert "payments" not in ok("kafka-topics.sh", *b, "--command-config", alice,
                                "--list").split()

    added = ok("kafka-acls.sh", *b, "--command-config", admin, "--add", "--allow-principal",
               "User:alice", "--consumer", "--topic", "payments", "--group", "alice-group")
    assert "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=payments, " \
           "patternType=LITERAL)`" in added
    listed = ok("kafka-acls.sh", *b, "--command-config", admin, "--list", "--topic",
                "payments")
    assert "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)" in listed

    assert "payments" in ok("kafka-topics.sh", *b, "--command-config", alice, "--list").split()
    assert consume(secured, "payments", 2, "--consumer.config", alice, "--group",
                   "alice-group") == ["p1", "p2"]
    # alice may read, not alter ACLs (Kafka's tool prints what it tried first)
    rc, out, err = run_script("kafka-acls.sh", *b, "--command-config", alice, "--add",
                              "--allow-principal", "User:alice", "--operation", "Write",
                              "--topic", "payments")
    assert rc == 1 and "Traceback" not in out + err, out + err
    assert out.splitlines()[-1].startswith(
        "Error while executing ACL command: CLUSTER_AUTHORIZATION_FAILED"), out


# -- mistakes: one clear line, non-zero status, no traceback, no hang ----------------------------

@pytest.mark.parametrize("args", [
    ("kafka-topics.sh", "--list", "--command-config"),
    ("kafka-consumer-groups.sh", "--list", "--command-config"),
    ("kafka-acls.sh", "--list", "--command-config"),
    ("kafka-log-dirs.sh", "--describe", "--command-config"),
    ("kafka-console-producer.sh", "--topic", "payments", "--producer.config"),
], ids=lambda args: args[0])
def test_a_wrong_password_is_one_line_about_authentication(secured, args):
    wrong = secured.user("alice", password="wrong-password")
    started = time.monotonic()
    line = one_error_line(*run_script(args[0], "--bootstrap-server", secured.bootstrap,
                                      *args[1:], wrong, input=b"x\n"))
    assert "authentication failed" in line.lower(), line
    assert time.monotonic() - started < 15, "a refused login is not worth retrying"


def test_sasl_ssl_without_jaas_config_is_a_clear_error(secured):
    no_jaas = secured.properties("no-jaas")
    line = one_error_line(*run_script("kafka-topics.sh", "--bootstrap-server",
                                      secured.bootstrap, "--command-config", no_jaas, "--list"))
    assert "security.protocol=SASL_SSL needs sasl.jaas.config" in line, line


def test_plaintext_tool_at_the_sasl_ssl_port_fails_within_its_timeout(secured):
    """Without --command-config the tool speaks PLAINTEXT, which the TLS listener drops: it
    retries for its 15 s budget, then names the address and why (run_script kills it after
    60 s, so a hang fails the test)."""
    started = time.monotonic()
    line = one_error_line(*run_script("kafka-topics.sh", "--bootstrap-server",
                                      secured.bootstrap, "--list", timeout=60))
    assert time.monotonic() - started < 45
    assert f"could not connect to {secured.bootstrap}" in line, line
