"""ZooKeeper errors as kafkalite sees them.

Why our own classes: only ``zk/session.py`` may import kazoo (architecture §2), yet callers
must tell "node exists" from "bad version" to implement Kafka's algorithms (create-if-absent,
compare-and-set, controller fencing). ``session.py`` translates every kazoo exception into one
of these at the boundary; nothing above it ever sees a kazoo type.

The ZooKeeper result codes are kept (``code``) so logs read like ZooKeeper's and Kafka's
(``NONODE``, ``NODEEXISTS``, ``BADVERSION``...).

Two errors are Kafka's rather than ZooKeeper's:

* :class:`ControllerMovedError` — a fenced controller write failed its
  ``check(/controller_epoch, epochZkVersion)``: a newer controller exists, so the caller must
  resign (Kafka's ``ControllerMovedException``, layout doc §6.2).
* :class:`BrokerIdInUse` — ``/brokers/ids/<id>`` is owned by another live session
  (duplicate ``broker.id``, layout doc §6.9). It is a configuration problem, hence a
  :class:`kafkalite.errors.ConfigError`.
"""

from __future__ import annotations

from typing import ClassVar

from kafkalite.errors import ConfigError

__all__ = [
    "ZkError",
    "NoNodeError",
    "NodeExistsError",
    "BadVersionError",
    "NotEmptyError",
    "ConnectionLossError",
    "NoAuthError",
    "SessionExpiredError",
    "ControllerMovedError",
    "BrokerIdInUse",
]


class ZkError(Exception):
    """A ZooKeeper operation failed.

    Attributes:
        path: the znode the failing operation addressed, when known.
        op_index: for a failed ``multi``, the index of the first failing operation.
        code: ZooKeeper's numeric result code (negative), or None when not from the server.
    """

    code: ClassVar[int | None] = None
    name: ClassVar[str] = "ZKERROR"

    def __init__(self, message: str | None = None, *, path: str | None = None,
                 op_index: int | None = None):
        self.path = path
        self.op_index = op_index
        if message is None:
            message = self.name if path is None else f"{self.name} for {path}"
        super().__init__(message)


class NoNodeError(ZkError):
    """The znode does not exist."""

    code = -101
    name = "NONODE"


class NodeExistsError(ZkError):
    """The znode already exists."""

    code = -110
    name = "NODEEXISTS"


class BadVersionError(ZkError):
    """The expected zkVersion did not match (compare-and-set lost)."""

    code = -103
    name = "BADVERSION"


class NotEmptyError(ZkError):
    """The znode has children and cannot be deleted."""

    code = -111
    name = "NOTEMPTY"


class NoAuthError(ZkError):
    """ZooKeeper's ACL on the znode does not let this session do that (``zookeeper.set.acl``
    on the brokers and no matching JAAS ``Client`` identity here)."""

    code = -102
    name = "NOAUTH"

    def __init__(self, message: str | None = None, *, path: str | None = None,
                 op_index: int | None = None):
        if message is None:
            message = (f"NOAUTH for {path}: " if path else "NOAUTH: ") + (
                "ZooKeeper's ACL refuses this identity (the brokers run with "
                "zookeeper.set.acl=true; give this process their JAAS Client section with "
                "KAFKA_OPTS=-Djava.security.auth.login.config=FILE)")
        super().__init__(message, path=path, op_index=op_index)


class ConnectionLossError(ZkError):
    """The connection dropped (or never came up); the outcome of a write is unknown."""

    code = -4
    name = "CONNECTIONLOSS"


class SessionExpiredError(ZkError):
    """The session expired (or the client was closed); its ephemerals are gone."""

    code = -112
    name = "SESSIONEXPIRED"


class ControllerMovedError(ZkError):
    """The controller epoch zkVersion changed: another broker became controller."""

    name = "CONTROLLER_MOVED"


class BrokerIdInUse(ConfigError):
    """``/brokers/ids/<id>`` already exists and belongs to another ZooKeeper session."""
