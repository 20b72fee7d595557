"""The SCRAM credential cache and the users config entity (names, validation)."""

from __future__ import annotations

import pytest

from kafkalite.errors import InvalidConfig
from kafkalite.security.credentials import (
    CredentialCache, desanitize, sanitize, scram_configs, validate_user_config)
from kafkalite.security.scram import format_credential, make_credential


def cred(password: str, mechanism: str = "SCRAM-SHA-256", iterations: int = 4096) -> str:
    return format_credential(make_credential(mechanism, password, salt=b"salt",
                                             iterations=iterations))


def test_sanitize_like_kafka():
    cases = {"alice": "alice", "alice@example.com": "alice%40example.com",
             "a b*c": "a%20b%2Ac", "CN=x,O=y": "CN%3Dx%2CO%3Dy", "d.o-t_s": "d.o-t_s",
             "tilde~": "tilde%7E", "\u00e9": "%C3%A9", "a/b": "a%2Fb", "<default>": "%3Cdefault%3E"}
    for name, sanitized in cases.items():
        assert sanitize(name) == sanitized
        assert desanitize(sanitized) == name
    assert desanitize("a+b") == "a b"        # Java's URLDecoder
    for bad in ("a%", "a%4", "a%zz"):
        with pytest.raises(ValueError):
            desanitize(bad)


def test_cache_follows_the_user_config():
    cache = CredentialCache()
    assert cache.get("SCRAM-SHA-256", "alice") is None
    cache.update_user("alice", {"SCRAM-SHA-256": cred("a"), "SCRAM-SHA-512":
                                cred("a", "SCRAM-SHA-512"), "producer_byte_rate": "1024"})
    assert cache.get("SCRAM-SHA-256", "alice").iterations == 4096
    assert cache.get("SCRAM-SHA-512", "alice") is not None
    assert cache.get("PLAIN", "alice") is None
    assert cache.users() == {"alice"}

    # the entity now has only one mechanism: the other credential is gone
    cache.update_user("alice", {"SCRAM-SHA-512": cred("b", "SCRAM-SHA-512", 8192)})
    assert cache.get("SCRAM-SHA-256", "alice") is None
    assert cache.get("SCRAM-SHA-512", "alice").iterations == 8192
    assert cache.users("SCRAM-SHA-256") == set()

    # a corrupt value does not keep the old credential working
    cache.update_user("alice", {"SCRAM-SHA-512": "salt=nonsense"})
    assert cache.get("SCRAM-SHA-512", "alice") is None

    cache.update_user("bob", {"SCRAM-SHA-256": cred("b")})
    cache.remove_user("bob")
    assert cache.users() == set()

    cache.update_user("carol", {"SCRAM-SHA-256": cred("c")})
    cache.replace_all({"dave": {"SCRAM-SHA-256": cred("d")}, "erin": {"consumer_byte_rate": "1"}})
    assert cache.users() == {"dave"}


def test_user_config_rules():
    validate_user_config({"SCRAM-SHA-256": cred("a"), "producer_byte_rate": "1024",
                          "request_percentage": "12.5"})
    with pytest.raises(InvalidConfig, match=r"Unknown Dynamic Configuration: Set\(nope\)\."):
        validate_user_config({"nope": "1"})
    with pytest.raises(InvalidConfig, match="Unknown Dynamic Configuration"):
        validate_user_config({"SCRAM-SHA-256": cred("a")}, default_entity=True)
    with pytest.raises(InvalidConfig, match="Not a number of type LONG"):
        validate_user_config({"consumer_byte_rate": "1.5"})
    with pytest.raises(InvalidConfig, match="Not a number of type DOUBLE"):
        validate_user_config({"controller_mutation_rate": "fast"})
    assert scram_configs({"SCRAM-SHA-512": "x", "producer_byte_rate": "1"}) == \
        {"SCRAM-SHA-512": "x"}
