"""Plain values for ZooKeeper operations: stats and multi-op requests.

Pure (L2): no kazoo here, so the controller, tests and ``kafka_zk`` can build and inspect
operations without a client. ``session.py`` converts these to kazoo calls and kazoo's
``ZnodeStat`` back to :class:`ZnodeStat`.

``version=-1`` means "any version", as in ZooKeeper.
"""

from __future__ import annotations

import attrs

__all__ = ["ZnodeStat", "CreateOp", "SetDataOp", "DeleteOp", "CheckOp", "Op", "ANY_VERSION",
           "ZkAuth", "ZkTls", "ZnodeAcl", "OPEN", "CREATOR_ALL_WORLD_READ", "CREATOR_ALL"]

ANY_VERSION = -1


@attrs.frozen
class ZkTls:
    """TLS to ZooKeeper's ``secureClientPort`` (Kafka's ``zookeeper.ssl.*``, PEM files).

    ``keystore`` holds our private key and certificate chain: ZooKeeper asks for a client
    certificate by default, and its ``x509`` provider makes the certificate's DN our identity
    (what ``zookeeper.set.acl`` then protects znodes with). ``truststore`` holds the CAs that
    sign ZooKeeper's certificate (None: the system's). ``check_hostname`` is Kafka's
    ``zookeeper.ssl.endpoint.identification.enable``.
    """

    keystore: str | None = None
    password: str | None = None
    truststore: str | None = None
    check_hostname: bool = True


@attrs.frozen
class ZkAuth:
    """Who a session is to ZooKeeper, and whether the znodes it creates are protected.

    ``digest`` is ``"user:password"`` for ZooKeeper's built-in ``digest`` scheme (what the
    ``username``/``password`` of the JAAS ``Client`` section become: it needs no set-up on
    the ZooKeeper server). ``tls`` connects over TLS, with a client certificate when it has a
    keystore. ``secure`` is Kafka's ``zookeeper.set.acl``: new znodes get
    :data:`CREATOR_ALL_WORLD_READ` (or :data:`CREATOR_ALL` under sensitive paths) instead of
    :data:`OPEN`, so only sessions with the same identity may change them.
    """

    digest: str | None = None
    secure: bool = False
    tls: ZkTls | None = None


@attrs.frozen
class ZnodeAcl:
    """A ZooKeeper ACL in ZooKeeper's own terms, e.g. ``("auth", "", "cdrwa")``: the
    ``auth`` scheme means "whoever the creating session authenticated as"."""

    entries: tuple[tuple[str, str, str], ...]


OPEN = ZnodeAcl((("world", "anyone", "cdrwa"),))
CREATOR_ALL_WORLD_READ = ZnodeAcl((("auth", "", "cdrwa"), ("world", "anyone", "r")))
CREATOR_ALL = ZnodeAcl((("auth", "", "cdrwa"),))


@attrs.frozen(kw_only=True)
class ZnodeStat:
    """ZooKeeper's Stat structure, Kafka vocabulary for the fields Kafka uses.

    ``version`` is the data version ("zkVersion", the partition epoch of a state znode);
    ``czxid`` of ``/brokers/ids/<id>`` is the broker epoch (KIP-380); ``ephemeral_owner`` is
    the owning session id (0 for persistent nodes).
    """

    czxid: int
    mzxid: int
    ctime: int  # ms since epoch
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int
    data_length: int
    num_children: int
    pzxid: int


@attrs.frozen
class CreateOp:
    path: str
    data: bytes = b""
    ephemeral: bool = False
    sequence: bool = False


@attrs.frozen
class SetDataOp:
    path: str
    data: bytes
    version: int = ANY_VERSION


@attrs.frozen
class DeleteOp:
    path: str
    version: int = ANY_VERSION


@attrs.frozen
class CheckOp:
    path: str
    version: int


Op = CreateOp | SetDataOp | DeleteOp | CheckOp
