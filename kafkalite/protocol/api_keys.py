"""Kafka API keys and the registry of message classes.

Every request/response class declared with :func:`kafkalite.protocol.schema.message` is recorded
here under its API key. The registry is filled as a side effect of importing
``kafkalite.protocol.messages``; the lookup functions import that package lazily, so callers never
see a half-empty registry because of import order.
"""

from __future__ import annotations

import enum

__all__ = [
    "ApiKey",
    "request_class",
    "response_class",
    "registered_api_keys",
    "register",
]


class ApiKey(enum.IntEnum):
    """Wire numbers of every Kafka API, named as in Kafka's ``ApiKeys`` (3.9)."""

    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    LEADER_AND_ISR = 4
    STOP_REPLICA = 5
    UPDATE_METADATA = 6
    CONTROLLED_SHUTDOWN = 7
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    OFFSET_FOR_LEADER_EPOCH = 23
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    WRITE_TXN_MARKERS = 27
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    ALTER_REPLICA_LOG_DIRS = 34
    DESCRIBE_LOG_DIRS = 35
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    CREATE_DELEGATION_TOKEN = 38
    RENEW_DELEGATION_TOKEN = 39
    EXPIRE_DELEGATION_TOKEN = 40
    DESCRIBE_DELEGATION_TOKEN = 41
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    ALTER_PARTITION_REASSIGNMENTS = 45
    LIST_PARTITION_REASSIGNMENTS = 46
    OFFSET_DELETE = 47
    DESCRIBE_CLIENT_QUOTAS = 48
    ALTER_CLIENT_QUOTAS = 49
    DESCRIBE_USER_SCRAM_CREDENTIALS = 50
    ALTER_USER_SCRAM_CREDENTIALS = 51
    VOTE = 52
    BEGIN_QUORUM_EPOCH = 53
    END_QUORUM_EPOCH = 54
    DESCRIBE_QUORUM = 55
    ALTER_PARTITION = 56
    UPDATE_FEATURES = 57
    ENVELOPE = 58
    FETCH_SNAPSHOT = 59
    DESCRIBE_CLUSTER = 60
    DESCRIBE_PRODUCERS = 61
    BROKER_REGISTRATION = 62
    BROKER_HEARTBEAT = 63
    UNREGISTER_BROKER = 64
    DESCRIBE_TRANSACTIONS = 65
    LIST_TRANSACTIONS = 66
    ALLOCATE_PRODUCER_IDS = 67
    CONSUMER_GROUP_HEARTBEAT = 68
    CONSUMER_GROUP_DESCRIBE = 69
    CONTROLLER_REGISTRATION = 70
    GET_TELEMETRY_SUBSCRIPTIONS = 71
    PUSH_TELEMETRY = 72
    ASSIGN_REPLICAS_TO_DIRS = 73
    LIST_CLIENT_METRICS_RESOURCES = 74
    DESCRIBE_TOPIC_PARTITIONS = 75


_REQUESTS: dict[int, type] = {}
_RESPONSES: dict[int, type] = {}


def register(cls: type) -> None:
    """Record a message class (called by the ``@message`` decorator).

    Raises:
        RuntimeError: a class of the same kind is already registered for that key.
    """
    table = _REQUESTS if cls.KIND == "request" else _RESPONSES
    if cls.API_KEY in table:
        raise RuntimeError(
            f"{cls.__name__}: {cls.KIND} for api key {cls.API_KEY} already registered "
            f"as {table[cls.API_KEY].__name__}"
        )
    table[cls.API_KEY] = cls


def _ensure_loaded() -> None:
    # Importing the package registers every message module; cheap after the first call.
    import kafkalite.protocol.messages  # noqa: F401


def request_class(api_key: int) -> type:
    """The request class registered for ``api_key``.

    Raises:
        KeyError: no request schema is registered for that key.
    """
    try:
        return _REQUESTS[api_key]
    except KeyError:
        _ensure_loaded()
        return _REQUESTS[api_key]


def response_class(api_key: int) -> type:
    """The response class registered for ``api_key``.

    Raises:
        KeyError: no response schema is registered for that key.
    """
    try:
        return _RESPONSES[api_key]
    except KeyError:
        _ensure_loaded()
        return _RESPONSES[api_key]


def registered_api_keys() -> list[ApiKey]:
    """Sorted API keys that have both a request and a response schema."""
    _ensure_loaded()
    return sorted(ApiKey(k) for k in _REQUESTS.keys() & _RESPONSES.keys())
