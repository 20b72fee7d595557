"""JAAS config strings as Kafka's JaasConfig (StreamTokenizer) reads them."""

from __future__ import annotations

import pytest

from kafkalite.errors import ConfigError
from kafkalite.security.jaas import (
    PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE, JaasEntry, listener_jaas_config_key,
    login_credentials, parse_jaas_config, parse_jaas_file, parse_single_jaas_config, plain_users)

PLAIN_SERVER = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
                'username="admin" password="admin-secret" user_admin="admin-secret" '
                'user_alice="alice-secret";')


def test_plain_broker_line():
    entry = parse_single_jaas_config(PLAIN_SERVER)
    assert entry.login_module == PLAIN_LOGIN_MODULE and entry.control_flag == "required"
    assert dict(entry.options) == {"username": "admin", "password": "admin-secret",
                                   "user_admin": "admin-secret", "user_alice": "alice-secret"}
    assert plain_users(entry) == {"admin": "admin-secret", "alice": "alice-secret"}
    assert login_credentials(entry) == ("admin", "admin-secret")
    assert "admin-secret" not in repr(entry)


def test_scram_line_and_layout_freedom():
    text = ('\n  org.apache.kafka.common.security.scram.ScramLoginModule   REQUIRED\n'
            '    username="admin"\n    password="admin-secret" ;\n')
    entry = parse_single_jaas_config(text)
    assert (entry.login_module, entry.control_flag) == (SCRAM_LOGIN_MODULE, "required")
    assert login_credentials(entry) == ("admin", "admin-secret")
    assert plain_users(entry) == {}          # user_ options only count for PlainLoginModule
    assert login_credentials(parse_single_jaas_config("a.B optional;")) == (None, None)


def test_values_quotes_escapes_and_comments():
    entry = parse_single_jaas_config(
        "com.example.Module sufficient /* block */ a=word.with-dash_and$ // line comment\n"
        "b='single' c=\"tab\\there \\\"quoted\\\" \\101\\7 \\q\" d=\"a;b=c\" "
        "e=\"\" f=\u00e9t\u00e9;")
    assert entry.control_flag == "sufficient"
    assert dict(entry.options) == {"a": "word.with-dash_and$", "b": "single",
                                   "c": 'tab\there "quoted" A\x07 q', "d": "a;b=c", "e": "",
                                   "f": "\u00e9t\u00e9"}


def test_several_modules():
    entries = parse_jaas_config("a.A required x=\"1\"; b.B Requisite;")
    assert entries == [JaasEntry("a.A", "required", {"x": "1"}), JaasEntry("b.B", "requisite")]
    with pytest.raises(ConfigError, match="contains 2 login modules, should be 1 module"):
        parse_single_jaas_config("a.A required; b.B required;")


@pytest.mark.parametrize("text,message", [
    ("", "Login module not specified in JAAS config"),
    ("   // only a comment", "Login module not specified in JAAS config"),
    ("a.A", "Login module control flag not specified in JAAS config"),
    ("a.A ;", "Login module control flag is not available in the JAAS config"),
    ("a.A mandatory;", "Invalid login module control flag 'mandatory' in JAAS config"),
    ("a.A required username=\"x\"", "JAAS config entry not terminated by semi-colon"),
    ("a.A required password=123;", "Value not specified for key 'password' in JAAS config"),
    ("a.A required password;", "Value not specified for key 'password' in JAAS config"),
    ("a.A required password=;", "Value not specified for key 'password' in JAAS config"),
    ("a.A required =\"x\";", "Value not specified for key 'null' in JAAS config"),
    ("a.A required user=\"unterminated;", "JAAS config entry not terminated by semi-colon"),
])
def test_malformed_lines(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_jaas_config(text)


def test_jaas_file_sections():
    sections = parse_jaas_file("""
        KafkaServer {
            org.apache.kafka.common.security.plain.PlainLoginModule required
            username="admin" password="admin-secret" user_bob="bob-secret";
            org.apache.kafka.common.security.scram.ScramLoginModule required;
        };
        Client { a.B optional; };
    """)
    assert list(sections) == ["KafkaServer", "Client"]
    assert plain_users(sections["KafkaServer"]) == {"bob": "bob-secret"}
    assert [e.login_module for e in sections["KafkaServer"]] == [PLAIN_LOGIN_MODULE,
                                                                 SCRAM_LOGIN_MODULE]
    for bad in ("KafkaServer a.B required;", "KafkaServer { a.B required; }",
                "KafkaServer { a.B required }; ", "KafkaServer { a.B required;"):
        with pytest.raises(ConfigError):
            parse_jaas_file(bad)


def test_listener_key():
    assert listener_jaas_config_key("SASL_PLAINTEXT", "SCRAM-SHA-256") == \
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config"
