"""Brokers and tools on ZooKeeper's TLS port (KIP-515), against a real ZooKeeper whose
``secureClientPort`` requires client certificates: Kafka's ``zookeeper.ssl.*`` keys (PEM
stores), ``zookeeper.set.acl=true`` with the certificate as the ZooKeeper identity (``x509``),
and the tools' ``--zk-tls-config-file`` / ``KAFKA_OPTS`` system properties."""

from __future__ import annotations

import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from kafkalite.cli.dev_pki import make_pki
from kafkalite.testing.processes import run_script as run
from kafkalite.zk.launcher import LocalZooKeeper, ServerTls

BROKER_DN = "CN=kafka-broker,O=test"


@pytest.fixture(scope="module")
def tls_zookeeper(tmp_path_factory):
    """A ZooKeeper with a plaintext port (for the observer) and a TLS port; yields
    (zookeeper, pki)."""
    pki = make_pki(tmp_path_factory.mktemp("zk-pki"), clients=("kafka-broker", "stranger"),
                   broker_key_password=None)
    zk = LocalZooKeeper(tls=ServerTls(keystore=str(pki.broker_keystore),
                                      truststore=str(pki.ca))).start()
    try:
        yield zk, pki
    finally:
        zk.stop()


def tls_props(pki, client: str = "kafka-broker") -> dict[str, str]:
    return {"zookeeper.ssl.client.enable": "true",
            "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
            "zookeeper.ssl.keystore.location": str(pki.client_keystore(client)),
            "zookeeper.ssl.keystore.type": "PEM",
            "zookeeper.ssl.truststore.location": str(pki.ca),
            "zookeeper.ssl.truststore.type": "PEM"}


@pytest.fixture
def observer(tls_zookeeper):
    """A plaintext, anonymous client on the non-TLS port, inside a fresh chroot."""
    zk, _ = tls_zookeeper
    chroot = f"/tls-{uuid.uuid4().hex[:8]}"
    root = KazooClient(hosts=zk.hosts)
    root.start(timeout=15)
    root.ensure_path(chroot)
    root.stop()
    client = KazooClient(hosts=zk.hosts + chroot)
    client.start(timeout=15)
    yield client, chroot
    client.stop()
    client.close()


def acl_of(client, path: str) -> list[tuple[str, str, int]]:
    return sorted((a.id.scheme, a.id.id, a.perms) for a in client.get_acls(path)[0])


def test_broker_over_zookeeper_tls_with_certificate_acls(broker_factory, tls_zookeeper,
                                                         observer, tmp_path):
    zk, pki = tls_zookeeper
    kazoo, chroot = observer
    connect = zk.secure_hosts + chroot
    broker = broker_factory(0, props={"zookeeper.connect": connect, "zookeeper.set.acl": "true",
                                      **tls_props(pki)})
    secured = sorted([("x509", BROKER_DN, 31), ("world", "anyone", 1)])
    assert acl_of(kazoo, "/brokers/ids/0") == secured
    assert acl_of(kazoo, "/brokers/topics") == secured
    with pytest.raises(NoAuthError):
        kazoo.create("/brokers/topics/evil", b"{}")
    with pytest.raises(NoAuthError):      # creator-only: not even its ACL is shown
        kazoo.get_acls("/config/users")
    keystore = str(pki.client_keystore("kafka-broker"))
    insider = KazooClient(hosts=connect, use_ssl=True, ca=str(pki.ca), certfile=keystore,
                          keyfile=keystore)
    insider.start(timeout=15)
    try:
        assert acl_of(insider, "/config/users") == [("x509", BROKER_DN, 31)]
    finally:
        insider.stop()
        insider.close()

    # kafka-configs with --zk-tls-config-file (the same certificate): a SCRAM user in the
    # creator-only subtree, which the broker (same identity) reads.
    tls_file = tmp_path / "zk-tls.properties"
    tls_file.write_text("".join(f"{k}={v}\n" for k, v in tls_props(pki).items()))
    rc, out, err = run("kafka-configs.sh", "--zookeeper", connect, "--zk-tls-config-file",
                       str(tls_file), "--alter", "--add-config",
                       "SCRAM-SHA-256=[iterations=4096,password=pw]", "--entity-type", "users",
                       "--entity-name", "alice")
    assert rc == 0, err
    with pytest.raises(NoAuthError):
        kazoo.get("/config/users/alice")
    rc, out, err = run("kafka-configs.sh", "--bootstrap-server", broker.bootstrap,
                       "--describe", "--entity-type", "users", "--entity-name", "alice")
    assert rc == 0 and "SCRAM-SHA-256=iterations=4096" in out, out + err

    # kafka-acls: the same file, for its in-process AclAuthorizer
    rc, out, err = run("kafka-acls.sh", "--authorizer-properties", f"zookeeper.connect={connect}",
                       "--zk-tls-config-file", str(tls_file), "--add", "--allow-principal",
                       "User:alice", "--operation", "Read", "--topic", "t")
    assert rc == 0 and "Error" not in out, out + err
    assert acl_of(kazoo, "/kafka-acl/Topic/t") == secured

    # kafka-topics takes ZooKeeper's system properties from KAFKA_OPTS, as Kafka's does.
    opts = " ".join(f"-D{k}={v}" for k, v in (
        ("zookeeper.client.secure", "true"),
        ("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty"),
        ("zookeeper.ssl.keyStore.location", pki.client_keystore("kafka-broker")),
        ("zookeeper.ssl.trustStore.location", pki.ca)))
    rc, out, err = run("kafka-topics.sh", "--zookeeper", connect, "--create", "--topic", "t",
                       "--partitions", "1", "--replication-factor", "1",
                       env={"KAFKA_OPTS": opts})
    assert rc == 0, err
    rc, out, err = run("kafka-topics.sh", "--bootstrap-server", broker.bootstrap, "--describe",
                       "--topic", "t")
    assert rc == 0 and "Leader: 0" in out, out + err

    # Another certificate is another identity: it may read but not change the metadata.
    stranger = tmp_path / "stranger.properties"
    stranger.write_text("".join(f"{k}={v}\n" for k, v in tls_props(pki, "stranger").items()))
    rc, out, err = run("kafka-configs.sh", "--zookeeper", connect, "--zk-tls-config-file",
                       str(stranger), "--alter", "--add-config", "retention.ms=1000",
                       "--entity-type", "topics", "--entity-name", "t")
    assert rc != 0 and "NOAUTH" in err + out and "Traceback" not in err, out + err

    # zookeeper-shell: ZooKeeper's -zk-tls-config-file
    rc, out, err = run("zookeeper-shell.sh", connect, "-zk-tls-config-file", str(tls_file),
                       "getAcl", "/config/users/alice")
    assert rc == 0, err
    assert out.split("\n")[:2] == [f"'x509,'{BROKER_DN}", ": cdrwa"]


def test_zookeeper_tls_settings_that_cannot_work_are_refused(broker_factory, tls_zookeeper,
                                                            observer, tmp_path):
    zk, pki = tls_zookeeper
    _, chroot = observer
    jks = {**tls_props(pki), "zookeeper.ssl.keystore.location": str(tmp_path / "k.jks"),
           "zookeeper.ssl.keystore.type": "JKS"}
    broker = broker_factory(0, wait=False, props={"zookeeper.connect": zk.secure_hosts + chroot,
                                                  **jks})
    assert broker.proc.wait(60) != 0
    assert "zookeeper.ssl.keystore.type=JKS" in broker.log_tail()
    assert "use a PEM file" in broker.log_tail()
