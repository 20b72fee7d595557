"""Small value types shared by every layer (Kafka vocabulary, no behaviour)."""

from __future__ import annotations

import re

import attrs

__all__ = ["TopicPartition", "BrokerEndpoint", "BrokerInfo", "validate_topic_name",
           "INTERNAL_TOPICS", "OFFSETS_TOPIC"]

OFFSETS_TOPIC = "__consumer_offsets"
TRANSACTION_TOPIC = "__transaction_state"
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, TRANSACTION_TOPIC})

_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME_LENGTH = 249


@attrs.frozen(order=True)
class TopicPartition:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


@attrs.frozen
class BrokerEndpoint:
    """One listener of a broker: name (e.g. PLAINTEXT), host, port, security protocol."""

    listener: str
    host: str
    port: int
    security_protocol: str = "PLAINTEXT"


@attrs.frozen
class BrokerInfo:
    broker_id: int
    endpoints: tuple[BrokerEndpoint, ...]
    rack: str | None = None
    broker_epoch: int = -1  # czxid of /brokers/ids/<id> (KIP-380)

    def endpoint(self, listener: str | None = None) -> BrokerEndpoint | None:
        for ep in self.endpoints:
            if listener is None or ep.listener == listener:
                return ep
        return None


def validate_topic_name(name: str) -> str | None:
    """Kafka's Topic.validate rules; returns a reason when invalid, else None."""
    if not name:
        return "Topic name is illegal, it can't be empty"
    if name in (".", ".."):
        return "Topic name cannot be \".\" or \"..\""
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        return (f"Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LENGTH} "
                "characters")
    if not _LEGAL_TOPIC.match(name):
        return (f"Topic name \"{name}\" is illegal, it contains a character other than ASCII "
                "alphanumerics, '.', '_' and '-'")
    return None
