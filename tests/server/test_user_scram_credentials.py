"""SCRAM users on the broker without sockets: the AlterUserScramCredentials /
DescribeUserScramCredentials handlers (Kafka 2.8 ZooKeeper-mode rules) and the config
manager keeping ``broker.credentials`` in step with ``/config/users``, over the in-memory
ZooKeeper of test_config_manager. A "login" is a real SCRAM exchange against the cache."""

from __future__ import annotations

import json

import pytest
import trio

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest, ScramCredentialDeletion, ScramCredentialUpsertion)
from kafkalite.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest, UserName)
from kafkalite.security.credentials import sanitize
from kafkalite.security.sasl import SaslAuthenticationError, ScramClient, create_server
from kafkalite.security.scram import (credential_from_salted_password, format_credential,
                                      make_credential, salted_password)
from kafkalite.server.config_manager import ConfigManager
from kafkalite.server.dispatch import RequestContext
from kafkalite.server.handlers.alter_user_scram_credentials import (
    handle_alter_user_scram_credentials)
from kafkalite.server.handlers.describe_user_scram_credentials import (
    handle_describe_user_scram_credentials)
from tests.server.test_config_manager import FakeSession, broker  # noqa: F401 - fixture

SHA256, SHA512 = 1, 2
SALT = b"0123456789abcdef"


def _ctx(b, api_key):
    return RequestContext(b, RequestHeader(api_key, 0, 1, "test"), None)


def _wire(response):
    return decode(type(response), 0, encode(response, 0))


def upsert(name, mechanism=SHA256, password="secret", iterations=4096):
    name_of = {SHA256: "SCRAM-SHA-256", SHA512: "SCRAM-SHA-512"}
    salted = salted_password(name_of.get(mechanism, "SCRAM-SHA-256"), password, SALT,
                             iterations)
    return ScramCredentialUpsertion(name=name, mechanism=mechanism, iterations=iterations,
                                    salt=SALT, salted_password=salted)


def alter(b, upsertions=(), deletions=()):
    request = AlterUserScramCredentialsRequest(
        upsertions=tuple(upsertions),
        deletions=tuple(ScramCredentialDeletion(name=n, mechanism=m) for n, m in deletions))
    response = _wire(trio.run(handle_alter_user_scram_credentials,
                              _ctx(b, ApiKey.ALTER_USER_SCRAM_CREDENTIALS), request))
    return {r.user: (r.error_code, r.error_message) for r in response.results}


def describe(b, users=None):
    request = DescribeUserScramCredentialsRequest(
        users=None if users is None else tuple(UserName(name=u) for u in users))
    response = _wire(trio.run(handle_describe_user_scram_credentials,
                              _ctx(b, ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS), request))
    assert response.error_code == 0
    return [(r.user, r.error_code, r.error_message,
             [(i.mechanism, i.iterations) for i in r.credential_infos])
            for r in response.results]


def can_log_in(b, user, password, mechanism="SCRAM-SHA-256") -> bool:
    server = create_server(mechanism, scram_lookup=b.credentials.get, nonce=lambda: "srv")
    client = ScramClient(mechanism, user, password, "cli")
    try:
        token = client.evaluate(b"")
        while not client.complete:
            token = client.evaluate(server.evaluate(token))
    except SaslAuthenticationError:
        return False
    return server.authorization_id == user


def node(b, user):
    return json.loads(b.session.nodes[f"/config/users/{sanitize(user)}"][0])


def notified(b):
    return [json.loads(b.session.nodes[f"/config/changes/{n}"][0])["entity_path"]
            for n in b.session.children("/config/changes")]


@pytest.fixture
def controller(broker):  # noqa: F811 - the imported fixture
    broker.controller = object()
    trio.run(broker.session.ensure_path, "/config/changes")
    ConfigManager(broker, wall_clock_ms=lambda: broker.session.now_ms)
    return broker


def test_alter_writes_kafkas_credentials_and_users_can_log_in_at_once(controller):
    b = controller
    assert not can_log_in(b, "alice", "alice-secret")
    # quota keys already in the node are kept
    trio.run(b.zk.change_entity_config, "users", "alice", {"producer_byte_rate": "1024"})
    assert alter(b, [upsert("alice", SHA256, "alice-secret", 8192),
                     upsert("bob@example.com", SHA512, "bob-secret")]) == {
        "alice": (0, None), "bob@example.com": (0, None)}

    expected = credential_from_salted_password(
        "SCRAM-SHA-256", SALT, salted_password("SCRAM-SHA-256", "alice-secret", SALT, 8192), 8192)
    assert node(b, "alice") == {"version": 1, "config": {
        "SCRAM-SHA-256": format_credential(expected), "producer_byte_rate": "1024"}}
    assert "bob%40example.com" in b.session.children("/config/users")
    assert notified(b)[-2:] == ["users/alice", "users/bob%40example.com"]
    assert can_log_in(b, "alice", "alice-secret")
    assert not can_log_in(b, "alice", "wrong")
    assert can_log_in(b, "bob@example.com", "bob-secret", "SCRAM-SHA-512")

    assert describe(b) == [("alice", 0, None, [(SHA256, 8192)]),
                           ("bob@example.com", 0, None, [(SHA512, 4096)])]
    assert describe(b, ["bob@example.com", "nobody", "", "alice", "alice"]) == [
        ("bob@example.com", 0, None, [(SHA512, 4096)]),
        ("nobody", errors.ResourceNotFound.code,
         "Attempt to describe a user credential that does not exist: nobody", []),
        ("", errors.ResourceNotFound.code, "Username must not be empty", []),
        ("alice", errors.DuplicateResource.code, "Cannot describe SCRAM credentials for the "
                                                  "same user twice in a single request: alice",
         [])]

    # replace, then delete: the old password stops working at once
    assert alter(b, [upsert("alice", SHA256, "new-secret")]) == {"alice": (0, None)}
    assert not can_log_in(b, "alice", "alice-secret") and can_log_in(b, "alice", "new-secret")
    assert alter(b, deletions=[("alice", SHA256)]) == {"alice": (0, None)}
    assert node(b, "alice")["config"] == {"producer_byte_rate": "1024"}
    assert not can_log_in(b, "alice", "new-secret")
    assert describe(b, ["alice"])[0][1] == errors.ResourceNotFound.code


def test_alter_refuses_bad_alterations_per_user(controller):
    b = controller
    results = alter(b, [upsert("", SHA256), upsert("u1", 0), upsert("u2", SHA256, iterations=100),
                        upsert("u3", SHA512, iterations=16385), upsert("u4", SHA256),
                        upsert("ok", SHA256)],
                    deletions=[("u4", SHA256), ("u5", SHA512), ("u6", 3)])
    assert results == {
        "": (errors.UnacceptableCredential.code, "Username must not be empty"),
        "u1": (errors.UnsupportedSaslMechanism.code, "Unknown SCRAM mechanism"),
        "u2": (errors.UnacceptableCredential.code, "Too few iterations"),
        "u3": (errors.UnacceptableCredential.code, "Too many iterations"),
        "u6": (errors.UnsupportedSaslMechanism.code, "Unknown SCRAM mechanism"),
        "u4": (errors.DuplicateResource.code, "A user credential cannot be altered twice in "
                                              "the same request"),
        "u5": (errors.ResourceNotFound.code, "Attempt to delete a user credential that does "
                                             "not exist"),
        "ok": (0, None)}
    assert sorted(b.session.children("/config/users")) == ["ok"]
    assert b.credentials.users() == {"ok"}


def test_alter_needs_the_controller(broker):  # noqa: F811
    broker.controller = None
    assert alter(broker, [upsert("b"), upsert("a")], deletions=[("a", SHA512)]) == {
        "a": (errors.NotController.code, None), "b": (errors.NotController.code, None)}
    assert "/config/users" not in broker.session.nodes


def test_config_manager_follows_user_entities(broker):  # noqa: F811
    b = broker

    async def main():
        await b.session.ensure_path("/config/changes")
        await b.session.ensure_path("/brokers/topics")
        carol = {"SCRAM-SHA-256": format_credential(
            make_credential("SCRAM-SHA-256", "carol-secret", salt=SALT, iterations=4096))}
        await b.zk.change_entity_config("users", sanitize("carol smith"), carol)
        await b.zk.change_entity_config("users", "<default>", {"producer_byte_rate": "1"})
        manager = ConfigManager(b, wall_clock_ms=lambda: b.session.now_ms)
        await manager.reload_all()
        assert b.credentials.users() == {"carol smith"}

        # written by another broker or kafka-configs --zookeeper: applied on notification
        dave = {"SCRAM-SHA-512": format_credential(
            make_credential("SCRAM-SHA-512", "dave-secret", salt=SALT, iterations=4096))}
        await b.zk.change_entity_config("users", "dave", dave)
        await b.zk.change_entity_config("users", "dave/clients/app", {"producer_byte_rate": "1"})
        await manager.process_notifications()
        assert can_log_in(b, "dave", "dave-secret", "SCRAM-SHA-512")

        await b.zk.change_entity_config("users", sanitize("carol smith"), {})
        await manager.process_notifications()
        assert not can_log_in(b, "carol smith", "carol-secret")
        assert b.credentials.users() == {"dave"}

        # a restart reads everything again
        b.credentials.remove_user("dave")
        await manager.reload_all()
        assert b.credentials.users() == {"dave"}

    trio.run(main)
    assert isinstance(b.session, FakeSession)


def test_cluster_authorization(controller):
    from types import SimpleNamespace

    from kafkalite.server.dispatch import HANDLERS

    b = controller
    asked = []

    class DenyAll:
        def authorize(self, principal, host, operation, resource_type, name):
            asked.append((principal, operation.name, resource_type.name, name))
            return False

    b.authorizer = DenyAll()
    connection = SimpleNamespace(session=SimpleNamespace(principal="User:bob"),
                                 client_host="10.0.0.1", listener="SASL_PLAINTEXT")
    alter_req = AlterUserScramCredentialsRequest(upsertions=(upsert("bob"), upsert("al")))
    describe_req = DescribeUserScramCredentialsRequest()
    for key, fn, req in ((ApiKey.ALTER_USER_SCRAM_CREDENTIALS,
                          handle_alter_user_scram_credentials, alter_req),
                         (ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS,
                          handle_describe_user_scram_credentials, describe_req)):
        ctx = RequestContext(b, RequestHeader(key, 0, 1, "test"), connection)
        with pytest.raises(errors.ClusterAuthorizationFailed) as e:
            trio.run(fn, ctx, req)
        response = _wire(HANDLERS[key].error_response(req, 0, e.value))
        if key == ApiKey.ALTER_USER_SCRAM_CREDENTIALS:
            assert [(r.user, r.error_code) for r in response.results] == [
                ("al", errors.ClusterAuthorizationFailed.code),
                ("bob", errors.ClusterAuthorizationFailed.code)]
        else:
            assert response.error_code == errors.ClusterAuthorizationFailed.code
            assert response.results == ()
    assert [a[1:] for a in asked] == [("ALTER", "CLUSTER", "kafka-cluster"),
                                      ("DESCRIBE", "CLUSTER", "kafka-cluster")]
    assert "/config/users" not in b.session.nodes
