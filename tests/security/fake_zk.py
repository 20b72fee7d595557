"""An in-memory ZooKeeper with versions, for KafkaZk's ACL methods and the authorizer service.

Only the ZkSession calls those use, with ZooKeeper's semantics: versioned set/delete
(BadVersionError), create with NodeExistsError, sequential children numbered per parent,
ctimes from a settable clock, and child watches that report the sorted children now and after
every change (delivered through trio memory channels, like ``ZkSession.watch_children``).
``before_write`` lets a test slip another writer's change in before the next write.
"""

from __future__ import annotations

import math

import trio

from kafkalite.zk.errors import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kafkalite.zk.ops import ZnodeStat


class FakeZk:
    def __init__(self, now_ms: int = 1_700_000_000_000):
        self.nodes: dict[str, list] = {"/": [b"", now_ms, 0]}   # data, ctime, version
        self.counters: dict[str, int] = {}
        self.now_ms = now_ms
        self.writes = 0
        self.before_write = None     # callable run (once) before the next set/create/delete
        self._watches: dict[str, list[trio.MemorySendChannel]] = {}

    # -- helpers -----------------------------------------------------------------------------

    def _stat(self, path: str) -> ZnodeStat:
        data, ctime, version = self.nodes[path]
        return ZnodeStat(czxid=0, mzxid=0, ctime=ctime, mtime=ctime, version=version,
                         cversion=0, aversion=0, ephemeral_owner=0, data_length=len(data),
                         num_children=len(self.children(path)), pzxid=0)

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.nodes
                      if p.startswith(prefix) and "/" not in p[len(prefix):])

    def data(self, path: str) -> bytes:
        return self.nodes[path][0]

    def _hook(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        self.writes += 1

    def _changed(self, path: str) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        for send in self._watches.get(parent, []):
            send.send_nowait(self.children(parent))

    # -- the ZkSession API -------------------------------------------------------------------

    async def get(self, path):
        if path not in self.nodes:
            raise NoNodeError(path=path)
        return self.nodes[path][0], self._stat(path)

    async def get_or_none(self, path):
        return (self.nodes[path][0], self._stat(path)) if path in self.nodes else None

    async def get_many(self, paths, *, small=False):
        return [await self.get_or_none(p) for p in paths]

    async def get_versioned_many(self, paths):
        return [None if r is None else (r[0], r[1].version) for r in await self.get_many(paths)]

    async def exists(self, path):
        return self._stat(path) if path in self.nodes else None

    async def get_children(self, path):
        if path not in self.nodes:
            raise NoNodeError(path=path)
        return self.children(path)

    async def ensure_path(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if p not in self.nodes:
                self.nodes[p] = [b"", self.now_ms, 0]
                self._changed(p)

    async def create(self, path, data=b"", *, ephemeral=False, sequence=False, makepath=False):
        self._hook()
        if sequence:
            parent = path.rsplit("/", 1)[0]
            n = self.counters.get(parent, 0)
            self.counters[parent] = n + 1
            path = f"{path}{n:010d}"
        parent = path.rsplit("/", 1)[0] or "/"
        if parent not in self.nodes:
            if not makepath:
                raise NoNodeError(path=parent)
            await self.ensure_path(parent)
        if path in self.nodes:
            raise NodeExistsError(path=path)
        self.nodes[path] = [bytes(data), self.now_ms, 0]
        self._changed(path)
        return path

    async def set(self, path, data, version=-1):
        self._hook()
        if path not in self.nodes:
            raise NoNodeError(path=path)
        node = self.nodes[path]
        if version != -1 and version != node[2]:
            raise BadVersionError(path=path)
        node[0], node[2] = bytes(data), node[2] + 1
        return self._stat(path)

    async def delete(self, path, version=-1, recursive=False):
        self._hook()
        if path not in self.nodes:
            raise NoNodeError(path=path)
        if version != -1 and version != self.nodes[path][2]:
            raise BadVersionError(path=path)
        if self.children(path):
            raise NotEmptyError(path=path)
        del self.nodes[path]
        self._changed(path)

    async def watch_children(self, path):
        await self.ensure_path(path)
        send, recv = trio.open_memory_channel(math.inf)
        self._watches.setdefault(path, []).append(send)
        send.send_nowait(self.children(path))
        return recv
