"""The one door to ZooKeeper: a kazoo client bridged into trio (architecture §1, style rule 7).

Why this shape:

* kazoo runs its own threads (connection, callbacks). Its callbacks must not block and must
  never touch trio-owned state. Every callback here only *enqueues*: it hands a small value to
  trio with ``TrioToken.run_sync_soon`` and returns. The trio side owns all channels.
* Requests use kazoo's ``*_async`` calls; completion callbacks set a ``trio.Event``, so a
  request costs no worker thread and many requests pipeline on one connection
  (:meth:`ZkSession.multi_many`, :meth:`ZkSession.get_many`). Only calls that kazoo offers
  only as blocking (connect, stop, recipe construction) run in ``trio.to_thread``.
* kazoo exceptions are translated at this boundary into :mod:`kafkalite.zk.errors`; this is
  the ONLY kafkalite module that imports kazoo.

Session lifecycle (what :meth:`ZkSession.state_events` reports):

``CONNECTED``                first connection, or reconnected within the same session
``SUSPENDED``                connection lost; the session (and our ephemerals) may still live
``LOST``                     the session expired: our ephemerals and one-shot watches are gone
``RECONNECTED_NEW_SESSION``  connected again after LOST with a *new* session: callers must
                             re-create ephemerals (``/brokers/ids/<id>``) and re-run elections

Requests issued while SUSPENDED wait (kazoo queues them) until the connection comes back; if
the session expires meanwhile they fail with :class:`SessionExpiredError`. A write that fails
with :class:`ConnectionLossError` may or may not have been applied (Kafka's "lost ack" cases).

:class:`SyncZk` is a blocking twin for command-line tools, which have no trio loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import struct
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import attrs
import trio
from kazoo import exceptions as kz
from kazoo.client import KazooClient, KazooState
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import ZnodeStat as KazooStat
from kazoo.security import ACL, Id

from kafkalite.zk import errors as e
from kafkalite.zk.ops import (
    CheckOp, CreateOp, DeleteOp, Op, SetDataOp, ZkAuth, ZnodeAcl, ZnodeStat)
from kafkalite.zk.znodes import znode_acl

__all__ = ["ZkSession", "SessionEvent", "SyncZk", "open_zk_session", "expire_session",
           "split_chroot", "retry_zk"]

CONNECTED = "CONNECTED"
SUSPENDED = "SUSPENDED"
LOST = "LOST"
RECONNECTED_NEW_SESSION = "RECONNECTED_NEW_SESSION"

# Reconnect quickly and forever (kazoo's default backoff grows to an hour between attempts).
_RETRY = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 2.0}


# Reads per multiRead request in ``get_many(..., small=True)``: 200 small znodes (a partition
# state is about 100 bytes) answer in some tens of kilobytes.
READS_PER_MULTI = 200

_GET_DATA = 4      # ZooKeeper OpCode.getData
_MULTI_READ = 22   # ZooKeeper OpCode.multiRead (server 3.6+)

# The jute structures of a multiRead, ours rather than kazoo's private serialization module,
# so that a kazoo release reshaping its internals cannot break the import of this module.
_INT = struct.Struct("!i")
_MULTI_HEADER = struct.Struct("!iBi")         # op type, done, error
_STAT = struct.Struct("!qqqqiiiqiiq")         # the Stat record, in ZnodeStat's field order

log = logging.getLogger(__name__)


def _chrooted(chroot: str | None, path: str) -> str:
    """``path`` under the client's chroot, as the server must see it (kazoo adds the chroot
    to its own requests; a request it does not know gets none)."""
    if not chroot:
        return path
    return chroot if path == "/" else chroot + path


class _MultiRead:
    """ZooKeeper's multiRead request (3.6+; kazoo has none): many getData in one request and
    one answer, each read on its own (no atomicity, an error is that read's answer). Its
    answer is a list of ``(data, kazoo ZnodeStat)`` or the kazoo exception of that read.

    kazoo sends any object with ``type``, ``serialize`` and ``deserialize`` through its
    private ``KazooClient._call``: ZkSession turns multiRead off if that path fails."""

    type = _MULTI_READ

    def __init__(self, paths: Sequence[str]):
        self.paths = paths

    def serialize(self) -> bytearray:
        b = bytearray()
        for path in self.paths:
            encoded = path.encode("utf-8")
            b += _MULTI_HEADER.pack(_GET_DATA, False, -1)
            b += _INT.pack(len(encoded))
            b += encoded
            b.append(0)   # no watch
        return b + _MULTI_HEADER.pack(-1, True, -1)

    @classmethod
    def deserialize(cls, buf: bytes, offset: int) -> list[Any]:
        out: list[Any] = []
        while True:
            op, done, err = _MULTI_HEADER.unpack_from(buf, offset)
            offset += _MULTI_HEADER.size
            if done:
                return out
            if op == _GET_DATA:
                (length,) = _INT.unpack_from(buf, offset)
                offset += _INT.size
                data = None
                if length >= 0:
                    data = bytes(buf[offset:offset + length])
                    offset += length
                out.append((data, KazooStat._make(_STAT.unpack_from(buf, offset))))
                offset += _STAT.size
            else:   # an ErrorResult: its code
                (code,) = _INT.unpack_from(buf, offset)
                offset += _INT.size
                out.append(kz.EXCEPTIONS[code]())

    def __repr__(self) -> str:
        return f"MultiRead({len(self.paths)} paths)"


@attrs.frozen
class SessionEvent:
    """A session state change; ``session_id`` is the (new) session for connected kinds."""

    kind: str
    session_id: int | None = None


def split_chroot(connect: str) -> tuple[str, str | None]:
    """``"h1:2181,h2:2181/kafka"`` -> ``("h1:2181,h2:2181", "/kafka")``; no chroot -> None."""
    i = connect.find("/")
    if i < 0:
        return connect, None
    chroot = connect[i:].rstrip("/")
    return connect[:i], (chroot or None)


_KAZOO_TO_OURS: tuple[tuple[type[BaseException], type[e.ZkError]], ...] = (
    (kz.NoNodeError, e.NoNodeError),
    (kz.NodeExistsError, e.NodeExistsError),
    (kz.BadVersionError, e.BadVersionError),
    (kz.NotEmptyError, e.NotEmptyError),
    (kz.ConnectionLoss, e.ConnectionLossError),
    (kz.ConnectionDropped, e.ConnectionLossError),
    (kz.OperationTimeoutError, e.ConnectionLossError),
    (KazooTimeoutError, e.ConnectionLossError),
    (kz.SessionExpiredError, e.SessionExpiredError),  # includes ConnectionClosedError
    (kz.NoAuthError, e.NoAuthError),
    (kz.AuthFailedError, e.NoAuthError),
    (kz.InvalidACLError, e.NoAuthError),
)


def _translate(exc: BaseException, path: str | None = None,
               op_index: int | None = None) -> e.ZkError:
    for kz_type, ours in _KAZOO_TO_OURS:
        if isinstance(exc, kz_type):
            if isinstance(exc, kz.ConnectionClosedError):
                return ours("ZooKeeper client is closed", path=path, op_index=op_index)
            return ours(path=path, op_index=op_index)
    name = type(exc).__name__
    return e.ZkError(f"{name} for {path}" if path else name, path=path, op_index=op_index)


def _is_kazoo_error(exc: BaseException) -> bool:
    return isinstance(exc, (kz.KazooException, KazooTimeoutError))


def _stat(s: Any) -> ZnodeStat:
    return ZnodeStat(czxid=s.czxid, mzxid=s.mzxid, ctime=s.ctime, mtime=s.mtime,
                     version=s.version, cversion=s.cversion, aversion=s.aversion,
                     ephemeral_owner=s.ephemeralOwner, data_length=s.dataLength,
                     num_children=s.numChildren, pzxid=s.pzxid)


def _new_client(hosts: str, session_timeout_ms: int, auth: ZkAuth | None = None,
                **kw: Any) -> KazooClient:
    if auth is not None and auth.digest:
        kw["auth_data"] = [("digest", auth.digest)]
    if auth is not None and auth.tls is not None:
        tls = auth.tls
        kw.update(use_ssl=True, ca=tls.truststore, verify_certs=True,
                  check_hostname=tls.check_hostname)
        if tls.keystore:   # one PEM file with the key and the chain, as Kafka's PEM keystore
            kw.update(certfile=tls.keystore, keyfile=tls.keystore,
                      keyfile_password=tls.password)
    return KazooClient(hosts=hosts, timeout=session_timeout_ms / 1000,
                       connection_retry=dict(_RETRY), command_retry=dict(_RETRY), **kw)


_PERM_BITS = {"r": 1, "w": 2, "c": 4, "d": 8, "a": 16}   # ZooKeeper's ZooDefs.Perms


def _to_kazoo(acl: ZnodeAcl) -> list[ACL]:
    return [ACL(sum(_PERM_BITS[letter] for letter in perms), Id(scheme, ident))
            for scheme, ident, perms in acl.entries]


def _from_kazoo(acls: Sequence[Any]) -> ZnodeAcl:
    return ZnodeAcl(tuple((a.id.scheme, a.id.id, "".join(
        letter for letter in "cdrwa" if a.perms & _PERM_BITS[letter])) for a in acls))


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]``: the parents ``makepath`` may have to create."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


class _Acls:
    """The ACL each new znode gets: None (kazoo's open default) unless ``zookeeper.set.acl``,
    then Kafka's per-path choice (:func:`kafkalite.zk.znodes.znode_acl`). Parents made by
    ``makepath`` get their own path's ACL, not the child's (kazoo would copy the child's)."""

    def __init__(self, auth: ZkAuth | None):
        self.secure = auth is not None and auth.secure

    def __call__(self, path: str) -> list[ACL] | None:
        return _to_kazoo(znode_acl(path)) if self.secure else None


def _start_or_raise(client: KazooClient, hosts: str, timeout_ms: int) -> None:
    try:
        client.start(timeout=timeout_ms / 1000)
    except KazooTimeoutError:
        raise e.ConnectionLossError(
            f"could not connect to ZooKeeper at {hosts} within {timeout_ms} ms") from None


def _stop_quietly(client: KazooClient) -> None:
    client.stop()
    client.close()


class ZkSession:
    """A ZooKeeper session usable from trio.

    Args:
        connect: ``host:port[,host:port...][/chroot]`` (Kafka's ``zookeeper.connect``).
        session_timeout_ms: requested session timeout (the server clamps it to
            [2, 20] x tickTime unless configured otherwise).
        connection_timeout_ms: how long :meth:`start` waits for the first connection.
    """

    def __init__(self, connect: str, *, session_timeout_ms: int = 18000,
                 connection_timeout_ms: int = 18000, auth: ZkAuth | None = None):
        self.connect = connect
        self.hosts, self.chroot = split_chroot(connect)
        self.session_timeout_ms = session_timeout_ms
        self.connection_timeout_ms = connection_timeout_ms
        self.auth = auth
        self._acl = _Acls(auth)
        self._client = _new_client(connect, session_timeout_ms, auth)
        self._token: trio.lowlevel.TrioToken | None = None
        self._state_channels: list[trio.MemorySendChannel[SessionEvent]] = []
        self._watch_channels: list[trio.MemorySendChannel[Any]] = []
        self._session_id: int | None = None
        self._lost = False      # kazoo-thread flag: next CONNECTED is a new session
        self._multi_read = True  # False once the server turned multiRead down (before 3.6)
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the chroot if needed (with a chroot-less client, as Kafka does), then connect.

        Raises:
            ConnectionLossError: no connection within ``connection_timeout_ms``.
        """
        self._token = trio.lowlevel.current_trio_token()
        if self.chroot:
            await trio.to_thread.run_sync(self._create_chroot)
        self._client.add_listener(self._on_state)
        await trio.to_thread.run_sync(_start_or_raise, self._client, self.hosts,
                                      self.connection_timeout_ms)

    def _create_chroot(self) -> None:
        client = _new_client(self.hosts, self.session_timeout_ms, self.auth)
        _start_or_raise(client, self.hosts, self.connection_timeout_ms)
        try:
            if self._acl.secure:
                for p in [*_ancestors(self.chroot), self.chroot]:
                    with contextlib.suppress(kz.NodeExistsError):
                        client.create(p, b"", acl=self._acl(p))
            else:
                client.ensure_path(self.chroot)
        except kz.KazooException as exc:
            raise _translate(exc, self.chroot) from None
        finally:
            _stop_quietly(client)

    async def close(self) -> None:
        """Close the session (its ephemerals vanish now) and end every channel handed out."""
        if self._closing:
            return
        self._closing = True
        await trio.to_thread.run_sync(_stop_quietly, self._client)
        for ch in self._state_channels + self._watch_channels:
            ch.close()
        self._state_channels.clear()
        self._watch_channels.clear()

    async def __aenter__(self) -> ZkSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with trio.CancelScope(shield=True):
            await self.close()

    @property
    def session_id(self) -> int | None:
        """The current session id (None before the first connection and after LOST)."""
        return self._session_id

    @property
    def connected(self) -> bool:
        return self._client.connected

    # -- the thread boundary ----------------------------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` in trio soon. Callable from any thread; never blocks or raises."""
        token = self._token
        if token is None:
            return
        try:
            token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            pass

    def _on_state(self, state: str) -> None:
        # kazoo connection thread: compute the kind from kazoo-side facts, then enqueue.
        if self._closing:
            return
        if state == KazooState.CONNECTED:
            self._session_id = self._client._session_id
            kind = RECONNECTED_NEW_SESSION if self._lost else CONNECTED
            self._lost = False
        elif state == KazooState.SUSPENDED:
            kind = SUSPENDED
        else:
            self._session_id = None
            self._lost = True
            kind = LOST
        self._post(self._deliver_state, SessionEvent(kind, self._session_id))

    def _deliver_state(self, event: SessionEvent) -> None:
        for ch in list(self._state_channels):
            try:
                ch.send_nowait(event)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._state_channels.remove(ch)

    async def _wait(self, async_result: Any, path: str | None = None) -> Any:
        """Await a kazoo IAsyncResult without a worker thread; translate its exception."""
        if self._token is None:
            raise e.ZkError("ZkSession.start() was not called", path=path)
        done = trio.Event()
        async_result.rawlink(lambda _r: self._post(done.set))
        await done.wait()
        return self._result(async_result, path)

    async def _wait_all(self, async_results: Sequence[Any]) -> None:
        """Wait until every one of ``async_results`` is complete, waking trio once for all
        of them (one wake-up per result costs more than the reads themselves when a
        failover reads ten thousand znodes). Read each with ``get_nowait`` afterwards."""
        if self._token is None:
            raise e.ZkError("ZkSession.start() was not called")
        if not async_results:
            return
        done = trio.Event()
        lock = threading.Lock()
        remaining = len(async_results)

        def one_done(_result: Any) -> None:   # kazoo's callback thread
            nonlocal remaining
            with lock:
                remaining -= 1
                last = remaining == 0
            if last:
                self._post(done.set)

        for ar in async_results:
            ar.rawlink(one_done)
        await done.wait()

    @staticmethod
    def _result(async_result: Any, path: str | None) -> Any:
        try:
            return async_result.get_nowait()
        except Exception as exc:
            if _is_kazoo_error(exc):
                raise _translate(exc, path) from None
            raise

    async def _call(self, call: Callable[[], Any], path: str | None) -> Any:
        """Submit and await one request, riding out a connection loss.

        Like Kafka's ZooKeeperClient, a request that fails because the connection dropped is
        retried once kazoo has reconnected (with backoff), for up to two session timeouts plus
        the connection timeout: by then the session has either resumed or expired, and an
        expired session surfaces as SessionExpiredError/ConnectionLossError to the caller.
        A retried non-idempotent write can find its own first attempt applied (NodeExists,
        BadVersion); callers that care already handle those answers.
        """
        deadline = trio.current_time() + (2 * self.session_timeout_ms
                                          + self.connection_timeout_ms) / 1000
        delay = 0.05
        while True:
            try:
                return await self._wait(self._submit(call, path), path)
            except e.ConnectionLossError:
                if trio.current_time() + delay > deadline:
                    raise
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _submit(self, call: Callable[[], Any], path: str | None) -> Any:
        # Synchronous kazoo validation errors (bad path) surface here, before any I/O.
        try:
            return call()
        except Exception as exc:
            if _is_kazoo_error(exc):
                raise _translate(exc, path) from None
            raise

    # -- events and watches -----------------------------------------------------------------

    def state_events(self) -> trio.MemoryReceiveChannel[SessionEvent]:
        """A new unbounded channel of :class:`SessionEvent` (subscribe before :meth:`start`
        to see the first CONNECTED). Closed by :meth:`close`."""
        send, recv = trio.open_memory_channel[SessionEvent](math.inf)
        self._state_channels.append(send)
        return recv

    async def watch_children(self, path: str) -> trio.MemoryReceiveChannel[list[str]]:
        """Sorted children of ``path`` now and after every change, across sessions.

        kazoo's ChildrenWatch re-arms itself after a new session (and reports the children
        again if they changed meanwhile). The path is created if missing; if it is deleted
        later the watch ends silently. Closing the receive channel stops the watch.
        """
        await self.ensure_path(path)
        send, recv = trio.open_memory_channel[list[str]](math.inf)
        watch = _WatchState(send)

        def on_children(children: list[str]) -> bool | None:   # kazoo thread
            if watch.stopped or self._closing:
                return False
            self._post(watch.deliver, sorted(children))
            return None

        self._watch_channels.append(send)
        await trio.to_thread.run_sync(lambda: self._client.ChildrenWatch(path, on_children))
        return recv

    async def watch_data(self, path: str
                         ) -> trio.MemoryReceiveChannel[tuple[bytes | None, ZnodeStat | None]]:
        """``(data, stat)`` of ``path`` now and after every change; ``(None, None)`` while it
        does not exist. Survives new sessions (kazoo DataWatch). Close the channel to stop."""
        send, recv = trio.open_memory_channel[tuple[bytes | None, ZnodeStat | None]](math.inf)
        watch = _WatchState(send)

        def on_data(data: bytes | None, stat: Any, event: Any = None) -> bool | None:
            if watch.stopped or self._closing:
                return False
            self._post(watch.deliver, (data, None if stat is None else _stat(stat)))
            return None

        self._watch_channels.append(send)
        await trio.to_thread.run_sync(lambda: self._client.DataWatch(path, on_data))
        return recv

    # -- requests ---------------------------------------------------------------------------

    async def get(self, path: str) -> tuple[bytes | None, ZnodeStat]:
        """Data and stat of ``path``. Raises NoNodeError."""
        data, stat = await self._call(lambda: self._client.get_async(path), path)
        return data, _stat(stat)

    async def get_or_none(self, path: str) -> tuple[bytes | None, ZnodeStat] | None:
        try:
            return await self.get(path)
        except e.NoNodeError:
            return None

    async def get_many(self, paths: Sequence[str], *, small: bool = False
                       ) -> list[tuple[bytes | None, ZnodeStat] | None]:
        """Pipelined gets; None where the node does not exist.

        ``small``: the znodes are known to be small (partition states), so up to
        READS_PER_MULTI of them go in one multiRead request. One request per znode costs
        the client a thread hand-off and a wake-up each, which for the thousands of states a
        failover reads add up to most of a second; a multiRead costs one. A server without
        multiRead (before 3.6) answers UNIMPLEMENTED or drops the connection: the reads are
        then made one per znode, from then on."""
        if small and self._multi_read and len(paths) > 1:
            got = await self._get_many_multi_read(paths)
            if got is not None:
                return [None if r is None else (r[0], _stat(r[1])) for r in got]
        pending = [self._submit(lambda p=p: self._client.get_async(p), p) for p in paths]
        await self._wait_all(pending)
        out: list[tuple[bytes | None, ZnodeStat] | None] = []
        for path, ar in zip(paths, pending):
            try:
                data, stat = self._result(ar, path)
                out.append((data, _stat(stat)))
            except e.NoNodeError:
                out.append(None)
        return out

    async def get_versioned_many(self, paths: Sequence[str]
                                 ) -> list[tuple[bytes | None, int] | None]:
        """Data and data version (zkVersion) of small znodes, read as ``get_many(paths,
        small=True)`` does; None where the node does not exist. What a failover reads by the
        thousand (partition states) needs no more, and a full stat per znode cost a tenth
        of a second per thousand on a busy broker."""
        got = await self._get_many_multi_read(paths) if (
            self._multi_read and len(paths) > 1) else None
        if got is None:   # one read per znode (kazoo's stat or ours: both have .version)
            got = await self.get_many(paths)
        return [None if r is None else (r[0], r[1].version) for r in got]

    async def _get_many_multi_read(self, paths: Sequence[str]
                                   ) -> list[tuple[bytes | None, Any] | None] | None:
        """Reads by multiRead: (data, kazoo stat) or None per path; None if the server has
        no multiRead."""
        chunks = [paths[i:i + READS_PER_MULTI] for i in range(0, len(paths), READS_PER_MULTI)]
        chroot = self._client.chroot

        def submit(chunk: Sequence[str]) -> Any:
            ar = self._client.handler.async_result()
            self._client._call(_MultiRead([_chrooted(chroot, p) for p in chunk]), ar)
            return ar

        try:
            pending = [self._submit(lambda c=c: submit(c), None) for c in chunks]
        except e.ZkError:
            raise
        except Exception as exc:   # kazoo's private request path is not the one we know
            self._turn_off_multi_read(exc)
            return None
        await self._wait_all(pending)
        if any(isinstance(ar.exception, kz.UnimplementedError) for ar in pending):
            self._multi_read = False   # (the other chunks may have lost the connection)
            return None
        odd = next((ar.exception for ar in pending if ar.exception is not None
                    and not _is_kazoo_error(ar.exception)), None)
        if odd is not None:   # e.g. kazoo failed to send or to read our request back
            self._turn_off_multi_read(odd)
            return None
        out: list[tuple[bytes | None, Any] | None] = []
        for chunk, ar in zip(chunks, pending):
            answers = self._result(ar, chunk[0])
            for path, answer in zip(chunk, answers):
                if isinstance(answer, kz.NoNodeError):
                    out.append(None)
                elif isinstance(answer, Exception):
                    raise _translate(answer, path)
                else:
                    out.append(answer)
        return out

    def _turn_off_multi_read(self, exc: BaseException) -> None:
        """Bulk reads go one znode per request from now on: slower failovers, nothing lost,
        where a kazoo release changed the private path multiRead rides on."""
        self._multi_read = False
        log.warning("ZooKeeper multiRead turned off, reads go one znode per request: this "
                    "kazoo version does not take the request as expected (%r)", exc)

    async def get_children_many(self, paths: Sequence[str]) -> list[list[str] | None]:
        """Pipelined get_children (all requests sent before the first answer is awaited);
        None where the node does not exist."""
        pending = [self._submit(lambda p=p: self._client.get_children_async(p), p)
                   for p in paths]
        await self._wait_all(pending)
        out: list[list[str] | None] = []
        for path, ar in zip(paths, pending):
            try:
                out.append(list(self._result(ar, path)))
            except e.NoNodeError:
                out.append(None)
        return out

    async def exists(self, path: str) -> ZnodeStat | None:
        stat = await self._call(lambda: self._client.exists_async(path), path)
        return None if stat is None else _stat(stat)

    async def get_children(self, path: str) -> list[str]:
        """Child names (not paths), in ZooKeeper's order. Raises NoNodeError."""
        return list(await self._call(lambda: self._client.get_children_async(path), path))

    async def create(self, path: str, data: bytes = b"", *, ephemeral: bool = False,
                     sequence: bool = False, makepath: bool = False) -> str:
        """Create a znode; returns its path (with the sequence suffix if ``sequence``).

        Raises NodeExistsError, NoNodeError (parent missing and not ``makepath``).
        """
        if makepath and self._acl.secure:
            await self._ensure_parents(path)
            makepath = False
        return await self._call(lambda: self._client.create_async(
            path, data, acl=self._acl(path), ephemeral=ephemeral, sequence=sequence,
            makepath=makepath), path)

    async def _ensure_parents(self, path: str) -> None:
        for parent in _ancestors(path):
            if await self.exists(parent) is None:
                with contextlib.suppress(e.NodeExistsError):
                    await self._call(lambda p=parent: self._client.create_async(
                        p, b"", acl=self._acl(p)), parent)

    async def create_with_stat(self, path: str, data: bytes = b"", *,
                               ephemeral: bool = False, makepath: bool = False
                               ) -> tuple[str, ZnodeStat]:
        """Create and return ``(path, stat)`` atomically (ZooKeeper 3.5+ create2): the czxid
        of a broker registration is its broker epoch, so it must be this node's czxid."""
        if makepath and self._acl.secure:
            await self._ensure_parents(path)
            makepath = False
        new_path, stat = await self._call(lambda: self._client.create_async(
            path, data, acl=self._acl(path), ephemeral=ephemeral, makepath=makepath,
            include_data=True), path)
        return new_path, _stat(stat)

    async def set(self, path: str, data: bytes, version: int = -1) -> ZnodeStat:
        """Set data if the version matches (-1 = any). Raises NoNodeError, BadVersionError."""
        return _stat(await self._call(lambda: self._client.set_async(path, data, version), path))

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        """Delete ``path`` (and, if ``recursive``, its subtree first; vanished nodes are
        fine). Raises NoNodeError (non-recursive), NotEmptyError, BadVersionError."""
        if recursive:
            try:
                children = await self.get_children(path)
            except e.NoNodeError:
                return
            for child in children:
                await self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            with contextlib.suppress(e.NoNodeError):
                await self.delete(path, version)
            return
        await self._call(lambda: self._client.delete_async(path, version), path)

    async def ensure_path(self, path: str) -> None:
        """Create ``path`` and its parents as empty persistent nodes if missing."""
        if self._acl.secure:
            await self._ensure_parents(path + "/x")
            return
        await self._call(lambda: self._client.ensure_path_async(path), path)

    async def get_acls(self, path: str) -> tuple[ZnodeAcl, ZnodeStat]:
        """The znode's ACL and stat. Raises NoNodeError."""
        acls, stat = await self._call(lambda: self._client.get_acls_async(path), path)
        return _from_kazoo(acls), _stat(stat)

    async def set_acls(self, path: str, acl: ZnodeAcl, version: int = -1) -> ZnodeStat:
        """Replace the znode's ACL (``version`` is its ACL version, -1 = any)."""
        return _stat(await self._call(
            lambda: self._client.set_acls_async(path, _to_kazoo(acl), version), path))

    def _commit(self, ops: Sequence[Op]) -> Any:
        t = self._client.transaction()
        for op in ops:
            if isinstance(op, CreateOp):
                t.create(op.path, op.data, acl=self._acl(op.path), ephemeral=op.ephemeral,
                         sequence=op.sequence)
            elif isinstance(op, SetDataOp):
                t.set_data(op.path, op.data, op.version)
            elif isinstance(op, DeleteOp):
                t.delete(op.path, op.version)
            elif isinstance(op, CheckOp):
                t.check(op.path, op.version)
            else:
                raise TypeError(f"not a ZooKeeper op: {op!r}")
        return t.commit_async()

    @staticmethod
    def _multi_results(ops: Sequence[Op], results: Sequence[Any]) -> list[Any]:
        for i, (op, r) in enumerate(zip(ops, results)):
            if isinstance(r, Exception) and not isinstance(
                    r, (kz.RolledBackError, kz.RuntimeInconsistency)):
                raise _translate(r, op.path, op_index=i)
        if any(isinstance(r, Exception) for r in results):
            raise e.ZkError("multi rolled back without a failing op", op_index=None)
        out: list[Any] = []
        for op, r in zip(ops, results):
            if isinstance(op, CreateOp):
                out.append(r)
            elif isinstance(op, SetDataOp):
                out.append(_stat(r))
            else:
                out.append(None)
        return out

    async def multi(self, ops: Sequence[Op]) -> list[Any]:
        """Apply ``ops`` atomically (ZooKeeper multi).

        Returns one result per op: the created path for CreateOp, the new ZnodeStat for
        SetDataOp, None for DeleteOp/CheckOp.

        Raises:
            ZkError subclass of the first failing op, with ``op_index`` and ``path`` set;
            nothing was applied.
        """
        if not ops:
            return []
        results = await self._call(lambda: self._commit(ops), None)
        return self._multi_results(ops, results)

    async def multi_many(self, batches: Sequence[Sequence[Op]]) -> list[list[Any] | e.ZkError]:
        """Several independent multis, pipelined; per batch its results or its ZkError."""
        pending = [self._submit(lambda b=b: self._commit(b), None) for b in batches]
        await self._wait_all(pending)
        out: list[list[Any] | e.ZkError] = []
        for ops, ar in zip(batches, pending):
            try:
                out.append(self._multi_results(ops, self._result(ar, None)))
            except e.ZkError as exc:
                out.append(exc)
        return out


class _WatchState:
    """The trio-side end of one watch; ``stopped`` is read by the kazoo thread (a bool)."""

    def __init__(self, send: trio.MemorySendChannel[Any]):
        self.send = send
        self.stopped = False

    def deliver(self, item: Any) -> None:   # runs in trio
        try:
            self.send.send_nowait(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.stopped = True


@contextlib.asynccontextmanager
async def open_zk_session(connect: str, *, session_timeout_ms: int = 18000,
                          connection_timeout_ms: int = 18000,
                          auth: ZkAuth | None = None) -> AsyncIterator[ZkSession]:
    """``async with open_zk_session(...) as zk:`` — started on entry, closed on exit."""
    async with ZkSession(connect, session_timeout_ms=session_timeout_ms,
                         connection_timeout_ms=connection_timeout_ms, auth=auth) as session:
        yield session


async def retry_zk(fn: Callable[..., Any], *args: Any, what: str, logger: Any,
                   prefix: str) -> None:
    """Await ``fn(*args)`` until it stops failing with a ZkError (backoff 0.2 s doubling to
    5 s), logging each failure as ``<prefix> <what> failed (...); retrying``: for background
    loops that must not die when ZooKeeper blips (the session reconnects underneath)."""
    delay = 0.2
    while True:
        try:
            await fn(*args)
            return
        except e.ZkError as exc:
            logger.warning("%s %s failed (%s); retrying", prefix, what, exc)
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def expire_session(session: ZkSession, *, timeout_ms: int = 10000) -> None:
    """Make the server expire ``session`` now (fault injection for tests and chaos tools).

    Opens a second connection with the same session id and password and closes it: closing
    ends the session on the server, exactly like an expiry (ephemerals vanish at once). The
    victim then sees SUSPENDED, LOST and RECONNECTED_NEW_SESSION. Only works for sessions
    whose password we hold, i.e. in-process clients.
    """
    client_id = session._client.client_id
    if client_id is None:
        raise e.ConnectionLossError("session is not connected")

    def run() -> None:
        dup = _new_client(session.hosts, session.session_timeout_ms, session.auth,
                          client_id=client_id)
        _start_or_raise(dup, session.hosts, timeout_ms)
        _stop_quietly(dup)

    await trio.to_thread.run_sync(run)


class SyncZk:
    """Blocking ZooKeeper access for command-line tools (no trio loop there).

    Same method names and errors as :class:`ZkSession`; no watches. Use as a context manager.
    The chroot, if any, is used as is (not created): tools look, they don't set up.
    """

    def __init__(self, connect: str, *, timeout_ms: int = 10000,
                 session_timeout_ms: int = 10000, auth: ZkAuth | None = None):
        self.connect = connect
        self.hosts, self.chroot = split_chroot(connect)
        self.timeout_ms = timeout_ms
        self._acl = _Acls(auth)
        self._client = _new_client(connect, session_timeout_ms, auth)

    def start(self) -> SyncZk:
        _start_or_raise(self._client, self.hosts, self.timeout_ms)
        return self

    def close(self) -> None:
        _stop_quietly(self._client)

    def __enter__(self) -> SyncZk:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, path: str | None) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if _is_kazoo_error(exc):
                raise _translate(exc, path) from None
            raise

    def get(self, path: str) -> tuple[bytes | None, ZnodeStat]:
        with self._errors(path):
            data, stat = self._client.get(path)
        return data, _stat(stat)

    def exists(self, path: str) -> ZnodeStat | None:
        with self._errors(path):
            stat = self._client.exists(path)
        return None if stat is None else _stat(stat)

    def get_children(self, path: str) -> list[str]:
        with self._errors(path):
            return list(self._client.get_children(path))

    def create(self, path: str, data: bytes = b"", *, ephemeral: bool = False,
               sequence: bool = False, makepath: bool = False) -> str:
        with self._errors(path):
            if makepath and self._acl.secure:
                self._ensure_parents(path)
                makepath = False
            return self._client.create(path, data, acl=self._acl(path), ephemeral=ephemeral,
                                       sequence=sequence, makepath=makepath)

    def _ensure_parents(self, path: str) -> None:
        for parent in _ancestors(path):
            if self._client.exists(parent) is None:
                with contextlib.suppress(kz.NodeExistsError):
                    self._client.create(parent, b"", acl=self._acl(parent))

    def add_auth(self, scheme: str, credential: str) -> None:
        """Add an identity to the session (ZooKeeper's ``addauth``)."""
        with self._errors(None):
            self._client.add_auth(scheme, credential)

    def get_acls(self, path: str) -> tuple[ZnodeAcl, ZnodeStat]:
        with self._errors(path):
            acls, stat = self._client.get_acls(path)
        return _from_kazoo(acls), _stat(stat)

    def set_acls(self, path: str, acl: ZnodeAcl, version: int = -1) -> ZnodeStat:
        with self._errors(path):
            return _stat(self._client.set_acls(path, _to_kazoo(acl), version))

    def set(self, path: str, data: bytes, version: int = -1) -> ZnodeStat:
        with self._errors(path):
            return _stat(self._client.set(path, data, version))

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        with self._errors(path):
            if recursive:
                self._client.delete(path, recursive=True)
            else:
                self._client.delete(path, version)

    def ensure_path(self, path: str) -> None:
        with self._errors(path):
            if self._acl.secure:
                self._ensure_parents(path + "/x")
            else:
                self._client.ensure_path(path)
