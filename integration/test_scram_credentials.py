"""SCRAM credentials through the KIP-554 APIs end to end: ``kafka-configs.sh
--bootstrap-server`` and librdkafka's AdminClient (AlterUserScramCredentials /
DescribeUserScramCredentials) against a real broker, checked in ZooKeeper in Kafka's format.

A credential librdkafka salted is then verified with kafkalite's own SCRAM exchange, so the
two sides agree on Hi() and the stored-key derivation. (Logging in over SASL listeners with
real clients is ``test_security.py``.)"""

from __future__ import annotations

import json

import pytest

from kafkalite.security.sasl import SaslAuthenticationError, ScramClient, ScramServer
from kafkalite.security.scram import parse_credential
from kafkalite.testing.processes import run_script as run


def stored(kazoo_client, user: str) -> dict[str, str]:
    return json.loads(kazoo_client.get(f"/config/users/{user}")[0])["config"]


def logs_in(credential_text: str, mechanism: str, user: str, password: str) -> bool:
    credential = parse_credential(credential_text)
    server = ScramServer(mechanism, {user: credential}.get, "server-nonce")
    client = ScramClient(mechanism, user, password, "client-nonce")
    try:
        token = client.evaluate(b"")
        while not client.complete:
            token = client.evaluate(server.evaluate(token))
    except SaslAuthenticationError:
        return False
    return server.complete


def test_kafka_configs_bootstrap_server_users(broker, kazoo_client, zk_connect):
    bs = ["--bootstrap-server", broker.bootstrap]
    rc, out, err = run("kafka-configs.sh", *bs, "--alter", "--add-config",
                       "SCRAM-SHA-256=[iterations=8192,password=alice-secret],"
                       "SCRAM-SHA-512=[password=alice-secret]",
                       "--entity-type", "users", "--entity-name", "alice")
    assert rc == 0, err
    assert out.strip() == "Completed updating config for user alice."
    config = stored(kazoo_client, "alice")
    assert sorted(config) == ["SCRAM-SHA-256", "SCRAM-SHA-512"]
    assert parse_credential(config["SCRAM-SHA-256"]).iterations == 8192
    assert logs_in(config["SCRAM-SHA-256"], "SCRAM-SHA-256", "alice", "alice-secret")
    assert not logs_in(config["SCRAM-SHA-512"], "SCRAM-SHA-512", "alice", "wrong")
    notes = [json.loads(kazoo_client.get(f"/config/changes/{c}")[0])
             for c in kazoo_client.get_children("/config/changes")]
    assert {"version": 2, "entity_path": "users/alice"} in notes

    rc, out, err = run("kafka-configs.sh", *bs, "--describe", "--user", "alice")
    assert rc == 0, err
    assert out.strip() == ("SCRAM credential configs for user-principal 'alice' are "
                           "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096")
    rc, out, err = run("kafka-configs.sh", "--zookeeper", zk_connect, "--describe",
                       "--user", "alice")
    assert rc == 0, err
    assert out.strip() == (f"Configs for user-principal 'alice' are SCRAM-SHA-256="
                           f"{config['SCRAM-SHA-256']},SCRAM-SHA-512={config['SCRAM-SHA-512']}")

    rc, out, err = run("kafka-configs.sh", *bs, "--alter", "--delete-config", "SCRAM-SHA-512",
                       "--user", "alice")
    assert rc == 0, err
    assert list(stored(kazoo_client, "alice")) == ["SCRAM-SHA-256"]
    rc, out, err = run("kafka-configs.sh", *bs, "--alter", "--delete-config", "SCRAM-SHA-512",
                       "--user", "alice")
    assert rc == 1 and "Traceback" not in err
    assert "RESOURCE_NOT_FOUND: Attempt to delete a user credential that does not exist" in err
    rc, out, err = run("kafka-configs.sh", *bs, "--alter", "--add-config",
                       "SCRAM-SHA-256=[iterations=100000,password=x]", "--user", "alice")
    assert rc == 1 and "UNACCEPTABLE_CREDENTIAL: Too many iterations" in err

    rc, out, err = run("kafka-configs.sh", *bs, "--describe", "--entity-type", "users")
    assert rc == 0, err
    assert out.strip() == ("SCRAM credential configs for user-principal 'alice' are "
                           "SCRAM-SHA-256=iterations=8192")
    rc, out, err = run("kafka-configs.sh", *bs, "--describe", "--user", "nobody")
    assert rc == 0 and out.strip() == ""


def test_librdkafka_admin_client_scram_credentials(broker, kazoo_client):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialDeletion,
                                       UserScramCredentialUpsertion)

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion("bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512,
                                                                10000), b"bob-secret"),
        UserScramCredentialUpsertion("carol@example.com", ScramCredentialInfo(
            ScramMechanism.SCRAM_SHA_256, 4096), b"carol-secret", b"fixed-salt")])
    for future in futures.values():
        assert future.result(timeout=30) is None

    bob = stored(kazoo_client, "bob")
    assert parse_credential(bob["SCRAM-SHA-512"]).iterations == 10000
    assert logs_in(bob["SCRAM-SHA-512"], "SCRAM-SHA-512", "bob", "bob-secret")
    carol = stored(kazoo_client, "carol%40example.com")
    assert parse_credential(carol["SCRAM-SHA-256"]).salt == b"fixed-salt"
    assert logs_in(carol["SCRAM-SHA-256"], "SCRAM-SHA-256", "carol@example.com",
                   "carol-secret")

    described = admin.describe_user_scram_credentials().result(timeout=30)
    assert sorted(described) == ["bob", "carol@example.com"]
    infos = described["bob"].scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in infos] == [(ScramMechanism.SCRAM_SHA_512,
                                                             10000)]
    one = admin.describe_user_scram_credentials(["carol@example.com", "nobody"])
    assert [(i.mechanism, i.iterations) for i in
            one["carol@example.com"].result(timeout=30).scram_credential_infos] == [
        (ScramMechanism.SCRAM_SHA_256, 4096)]
    with pytest.raises(KafkaException, match="does not exist: nobody"):
        one["nobody"].result(timeout=30)

    futures = admin.alter_user_scram_credentials([
        UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_512)])
    assert futures["bob"].result(timeout=30) is None
    assert stored(kazoo_client, "bob") == {}
    failed = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        "dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), b"x")])
    with pytest.raises(KafkaException, match="Too few iterations"):
        failed["dave"].result(timeout=30)
