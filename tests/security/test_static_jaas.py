"""The static JAAS file named by KAFKA_OPTS, and the ZooKeeper identity taken from it."""

from __future__ import annotations

import pytest

from kafkalite.errors import ConfigError
from kafkalite.security.static_jaas import jvm_properties, load_static_jaas
from kafkalite.security.zk_client import zk_auth
from kafkalite.zk.ops import ZkAuth

JAAS = """
KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin" password="admin-secret" user_admin="admin-secret";
};
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    username="kafka" password="zk secret";
};
Other {
  org.apache.zookeeper.server.auth.DigestLoginModule required username="other" password="o";
};
"""


@pytest.fixture
def jaas_file(tmp_path):
    path = tmp_path / "jaas.conf"
    path.write_text(JAAS)
    return path


def opts(path, *extra: str) -> dict[str, str]:
    return {"KAFKA_OPTS": " ".join([f"-Xmx1G -Djava.security.auth.login.config={path}",
                                    *extra])}


def test_jvm_properties_are_the_dash_d_options() -> None:
    env = {"KAFKA_OPTS": "-Xmx1G -Da=1 -Db='x y' -Dc=k=v -Dflag"}
    assert jvm_properties(env) == {"a": "1", "b": "x y", "c": "k=v"}
    assert jvm_properties({}) == {}


def test_load_static_jaas_reads_the_sections(jaas_file) -> None:
    path, sections = load_static_jaas(opts(jaas_file))
    assert path == str(jaas_file)
    assert set(sections) == {"KafkaServer", "Client", "Other"}
    assert load_static_jaas({}) is None


def test_unreadable_or_malformed_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read the JAAS file .*missing"):
        load_static_jaas(opts(tmp_path / "missing"))
    bad = tmp_path / "bad.conf"
    bad.write_text("Client { org.Foo required username=\"a\" }")
    with pytest.raises(ConfigError, match=f"JAAS file {bad}"):
        load_static_jaas(opts(bad))


def test_client_section_is_the_digest_identity(jaas_file) -> None:
    assert zk_auth(opts(jaas_file)) == ZkAuth(digest="kafka:zk secret", secure=True)
    assert zk_auth(opts(jaas_file), set_acl=False) == ZkAuth("kafka:zk secret", secure=False)
    assert zk_auth(opts(jaas_file), set_acl=True) == ZkAuth("kafka:zk secret", secure=True)


def test_section_name_and_sasl_switch_are_honoured(jaas_file) -> None:
    renamed = opts(jaas_file, "-Dzookeeper.sasl.clientconfig=Other")
    assert zk_auth(renamed) == ZkAuth("other:o", secure=True)
    assert zk_auth(opts(jaas_file, "-Dzookeeper.sasl.client=false")) is None


def test_no_identity_is_fine_unless_acls_are_wanted(tmp_path) -> None:
    assert zk_auth({}) is None
    assert zk_auth({}, set_acl=False) is None
    with pytest.raises(ConfigError, match="zookeeper.set.acl is true.*failed: no JAAS file"):
        zk_auth({}, set_acl=True)
    server_only = tmp_path / "server.conf"
    server_only.write_text(JAAS.split("Client {")[0])
    with pytest.raises(ConfigError, match=f"{server_only} has no Client section"):
        zk_auth(opts(server_only), set_acl=True)
