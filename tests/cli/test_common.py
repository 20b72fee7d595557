"""cluster_kwargs and the client properties options of every tool that talks to brokers.

The tool tests stop at the first thing a tool does with its properties file (building the TLS
and SASL settings), so they need no broker: a file with ``security.protocol=SASL_SSL`` and no
``sasl.jaas.config`` must be one clear line and a non-zero exit, never a traceback, and never a
connection attempt (the bootstrap address is a port nothing listens on).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from click.testing import CliRunner

from kafkalite.cli.common import CLIENT_SECURITY_KEYS, cluster_kwargs
from kafkalite.cli.dev_pki import make_pki
from kafkalite.client.security import client_security
from kafkalite.errors import ConfigError

NO_BROKER = "127.0.0.1:1"
SCRAM_JAAS = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
              'username="admin" password="admin-secret";')
NO_JAAS = "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"


# -- cluster_kwargs ------------------------------------------------------------------------------

def test_plaintext_gives_no_security_and_keeps_the_tools_client_id():
    assert cluster_kwargs({}) == {"security": None}
    assert cluster_kwargs({"client.id": "me"}) == {"security": None}
    assert cluster_kwargs({}, client_id="kafka-acls") == {"security": None,
                                                          "client_id": "kafka-acls"}


def test_client_id_from_the_properties_wins_over_the_default():
    assert cluster_kwargs({"client.id": " ops "}, client_id="kafka-acls")["client_id"] == "ops"
    assert cluster_kwargs({"client.id": " "}, client_id="kafka-acls")["client_id"] \
        == "kafka-acls"


def test_sasl_plaintext_gives_the_login():
    kwargs = cluster_kwargs({"security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": SCRAM_JAAS})
    assert set(kwargs) == {"security"}
    assert kwargs["security"].sasl_mechanism == "SCRAM-SHA-512"
    assert kwargs["security"].ssl_context is None


def test_bad_security_settings_raise_config_error():
    with pytest.raises(ConfigError, match="needs sasl.jaas.config"):
        cluster_kwargs({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
                       client_id="x")


class _Recording(Mapping[str, str]):
    """Properties that remember which keys were looked up."""

    def __init__(self, data: dict[str, str]):
        self.data = data
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.data[key]

    def get(self, key, default=None):
        self.asked.add(key)
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_client_security_keys_cover_every_key_read(tmp_path):
    """Tools that warn about unknown properties must not warn about the ones they use."""
    pki = make_pki(tmp_path / "pki")
    props = _Recording({
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": SCRAM_JAAS, "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca), "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.client_keystore("client"))})
    assert client_security(props) is not None
    assert props.asked - CLIENT_SECURITY_KEYS == set()
    assert "client.id" not in CLIENT_SECURITY_KEYS


# -- every tool: the option is read, its mistakes are one line -----------------------------------

def _tools(props: str, offsets: str) -> list:
    from kafkalite.cli import (acls, configs, console_consumer, console_producer,
                               consumer_groups, delete_records, leader_election, log_dirs,
                               preferred_replica_election, reassign_partitions, topics,
                               transactions)

    b = ["--bootstrap-server", NO_BROKER]
    return [
        pytest.param(topics.main, [*b, "--list", "--command-config", props], id="topics"),
        pytest.param(configs.main, [*b, "--describe", "--entity-type", "topics",
                                    "--command-config", props], id="configs"),
        pytest.param(consumer_groups.main, [*b, "--list", "--command-config", props],
                     id="consumer-groups"),
        pytest.param(delete_records.main, [*b, "--offset-json-file", offsets,
                                           "--command-config", props], id="delete-records"),
        pytest.param(log_dirs.main, [*b, "--describe", "--command-config", props],
                     id="log-dirs"),
        pytest.param(reassign_partitions.main, [*b, "--list", "--command-config", props],
                     id="reassign-partitions"),
        pytest.param(transactions.kafka_transactions, [*b, "--command-config", props, "list"],
                     id="transactions"),
        pytest.param(acls.main, [*b, "--command-config", props, "--list"], id="acls"),
        pytest.param(leader_election.main, [*b, "--admin.config", props, "--election-type",
                                            "preferred", "--all-topic-partitions"],
                     id="leader-election"),
        pytest.param(preferred_replica_election.main, [*b, "--admin.config", props],
                     id="preferred-replica-election"),
        pytest.param(console_producer.main, [*b, "--topic", "t", "--producer.config", props],
                     id="console-producer"),
        pytest.param(console_consumer.main, [*b, "--topic", "t", "--consumer.config", props],
                     id="console-consumer"),
    ]


@pytest.fixture
def files(tmp_path):
    props = tmp_path / "client.properties"
    props.write_text(NO_JAAS)
    offsets = tmp_path / "offsets.json"
    offsets.write_text('{"partitions": [{"topic": "t", "partition": 0, "offset": 1}], '
                       '"version": 1}')
    return str(props), str(offsets)


def _error_lines(result) -> list[str]:
    """stderr (and stdout, where a tool prints its failure there, as kafka-acls does) without
    the banner lines some tools print before they start."""
    banners = ("This tool is deprecated", "Executing records delete operation",
               "Processed a total of")
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not line.startswith(banners)]


@pytest.mark.parametrize(("tool", "args"), _tools("{props}", "{offsets}"))
def test_tools_read_their_properties_file_and_report_bad_security_in_one_line(tool, args,
                                                                             files):
    props, offsets = files
    args = [a.format(props=props, offsets=offsets) for a in args]
    result = CliRunner().invoke(tool, args)
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    lines = _error_lines(result)
    assert len(lines) == 1, lines
    assert "sasl.jaas.config" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("tool", "option", "file_option"), [
    ("console_producer", "--producer-property", "--producer.config"),
    ("console_consumer", "--consumer-property", "--consumer.config"),
])
def test_console_tools_property_overrides_the_file(tool, option, file_option, tmp_path):
    import importlib

    main = importlib.import_module(f"kafkalite.cli.{tool}").main
    path = tmp_path / "client.properties"
    path.write_text("security.protocol=PLAINTEXT\n")
    result = CliRunner().invoke(main, ["--bootstrap-server", NO_BROKER, "--topic", "t",
                                       file_option, str(path), option,
                                       "security.protocol=SASL_SSL", option,
                                       "sasl.mechanism=SCRAM-SHA-512"])
    assert result.exit_code == 1, result.output
    assert "ERROR: security.protocol=SASL_SSL needs sasl.jaas.config" in result.stderr
    # the security keys are known: no "isn't a known config" warning for them
    assert "known config" not in result.stderr
