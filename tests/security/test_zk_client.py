"""TLS to ZooKeeper from Kafka's zookeeper.ssl.* keys and ZooKeeper's system properties."""

from __future__ import annotations

import pytest

from kafkalite.errors import ConfigError
from kafkalite.security.zk_client import read_zk_tls_config_file, zk_auth, zk_tls
from kafkalite.zk.ops import ZkAuth, ZkTls

TLS = {"zookeeper.ssl.client.enable": "true",
       "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
       "zookeeper.ssl.keystore.location": "/k/client.pem",
       "zookeeper.ssl.keystore.password": "kpw",
       "zookeeper.ssl.truststore.location": "/k/ca.pem",
       "zookeeper.ssl.truststore.type": "PEM"}


def test_tls_is_off_unless_enabled() -> None:
    assert zk_tls({}, {}) is None
    assert zk_tls({**TLS, "zookeeper.ssl.client.enable": "false"}, {}) is None


def test_kafka_keys_give_the_pem_stores() -> None:
    assert zk_tls(TLS, {}) == ZkTls(keystore="/k/client.pem", password="kpw",
                                    truststore="/k/ca.pem", check_hostname=True)
    no_check = {**TLS, "zookeeper.ssl.endpoint.identification.enable": "false"}
    assert zk_tls(no_check, {}).check_hostname is False


def test_system_properties_fill_in_and_config_wins() -> None:
    env = {"KAFKA_OPTS": "-Dzookeeper.client.secure=true "
                         "-Dzookeeper.ssl.trustStore.location=/sys/ca.pem "
                         "-Dzookeeper.ssl.keyStore.location=/sys/me.pem"}
    assert zk_tls({}, env) == ZkTls(keystore="/sys/me.pem", truststore="/sys/ca.pem")
    assert zk_tls({"zookeeper.ssl.truststore.location": "/cfg/ca.pem"}, env).truststore == \
        "/cfg/ca.pem"


@pytest.mark.parametrize("location,kind", [("/k/store.jks", "JKS"), ("/k/store.p12", "PKCS12")])
def test_java_stores_are_refused_with_a_way_out(location, kind) -> None:
    with pytest.raises(ConfigError, match=f"type={kind}.*use a PEM file"):
        zk_tls({**TLS, "zookeeper.ssl.keystore.location": location}, {})
    with pytest.raises(ConfigError, match="type=JKS"):
        zk_tls({**TLS, "zookeeper.ssl.truststore.type": "JKS"}, {})


def test_a_certificate_is_an_identity_for_set_acl() -> None:
    auth = zk_auth({}, set_acl=True, config=TLS)
    assert auth == ZkAuth(digest=None, secure=True, tls=zk_tls(TLS, {}))
    # tools: protected znodes whenever they have an identity
    assert zk_auth({}, config=TLS).secure is True
    no_cert = {k: v for k, v in TLS.items() if "keystore" not in k}
    assert zk_auth({}, config=no_cert).secure is False
    with pytest.raises(ConfigError, match="zookeeper.set.acl is true"):
        zk_auth({}, set_acl=True, config=no_cert)


def test_zk_tls_config_file_keeps_only_zookeeper_tls_keys(tmp_path) -> None:
    f = tmp_path / "zk-tls.properties"
    f.write_text("".join(f"{k}={v}\n" for k, v in TLS.items()) + "bootstrap.servers=x:1\n")
    assert read_zk_tls_config_file(str(f)) == TLS
    with pytest.raises(ConfigError, match="--zk-tls-config-file: cannot read"):
        read_zk_tls_config_file(str(tmp_path / "missing"))


def test_settings_the_client_cannot_apply_are_reported(caplog) -> None:
    zk_tls({**TLS, "zookeeper.ssl.cipher.suites": "TLS_AES_128_GCM_SHA256",
            "zookeeper.ssl.crl.enable": "false"}, {})
    assert "zookeeper.ssl.cipher.suites: not applied" in caplog.text
    assert "crl" not in caplog.text
