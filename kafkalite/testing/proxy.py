"""A userspace TCP fault proxy for partition tests (``reliability-ecosystem.md`` A8).

The kernel here has no netem and there is no iptables, so faults between processes on
loopback are made by routing every interesting link through a proxy that can be told, at any
moment, to

* ``pass`` bytes through (optionally ``delay``-ed and capped at ``rate`` bytes/s, a slow
  link);
* ``blackhole``: stop moving bytes in both directions without closing anything, as a network
  partition does. Bytes are never discarded: a TCP stream cannot lose bytes in the middle, so
  what was sent waits (the sender's buffers fill and it sees no progress) and flows once the
  link heals, unless an end gave up and closed first. New connections are accepted but not
  connected onward until the link heals (a partitioned SYN would time out; here the client's
  request times out instead);
* ``reset``: close every connection of the link with RST and refuse new ones at once (a
  crashed peer, or an ICMP-rejecting firewall).

One :class:`ProxyNet` runs every link of a test on one asyncio loop in a daemon thread; its
methods are thread-safe. Links are named (``"zk-1"``, ``"peer-0-2"`` ...) and listen on
127.0.0.1 ports chosen below the ephemeral range.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterable

import attrs

from kafkalite.zk.launcher import free_port

__all__ = ["LinkState", "ProxyNet", "PASS", "BLACKHOLE", "RESET"]

PASS, BLACKHOLE, RESET = "pass", "blackhole", "reset"
_CHUNK = 65536


@attrs.frozen
class LinkState:
    mode: str = PASS
    delay_s: float = 0.0
    rate: float | None = None  # bytes per second, None = unlimited


class _Link:
    """One listening port forwarding to one target, with its current :class:`LinkState`."""

    def __init__(self, name: str, target: tuple[str, int], port: int):
        self.name = name
        self.target = target
        self.port = port
        self.state = LinkState()
        self.open = asyncio.Event()   # set unless blackholed
        self.open.set()
        self.server: asyncio.base_events.Server | None = None
        self.connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self.tasks: set[asyncio.Task] = set()
        self.accepted = 0


def _abort(writer: asyncio.StreamWriter | None) -> None:
    """Close with RST (SO_LINGER 0), not FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


class ProxyNet:
    """Every fault proxy of a test, on one event loop thread (see the module docstring)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._links: dict[str, _Link] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._thread.start()

    def _call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- links ---------------------------------------------------------------------------

    def add(self, name: str, target_host: str, target_port: int, *,
            port: int | None = None) -> int:
        """Start a link listening on ``port`` (a free one if None) towards the target;
        returns the port."""
        return self._call(self._add(name, (target_host, target_port), port))

    async def _add(self, name: str, target: tuple[str, int], port: int | None) -> int:
        assert name not in self._links, name
        for attempt in range(5):
            link = _Link(name, target, port or free_port())
            try:
                link.server = await asyncio.start_server(
                    lambda r, w, link=link: self._accept(link, r, w), "127.0.0.1", link.port,
                    reuse_address=True)
                break
            except OSError:
                if port is not None or attempt == 4:
                    raise
        self._links[name] = link
        return link.port

    def port(self, name: str) -> int:
        return self._links[name].port

    def names(self) -> list[str]:
        return sorted(self._links)

    def state(self, name: str) -> LinkState:
        return self._links[name].state

    def set(self, names: str | Iterable[str], mode: str = PASS, *, delay_s: float = 0.0,
            rate: float | None = None) -> None:
        """Put links into ``mode`` (``pass`` with optional delay/rate, ``blackhole``,
        ``reset``)."""
        names = [names] if isinstance(names, str) else list(names)
        assert mode in (PASS, BLACKHOLE, RESET), mode
        self._call(self._set(names, LinkState(mode, delay_s, rate)))

    async def _set(self, names: list[str], state: LinkState) -> None:
        for name in names:
            link = self._links[name]
            link.state = state
            if state.mode == BLACKHOLE:
                link.open.clear()
            else:
                link.open.set()
            if state.mode == RESET:
                for client, upstream in list(link.connections):
                    _abort(client)
                    _abort(upstream)
                link.connections.clear()

    def heal(self, names: Iterable[str] | None = None) -> None:
        """Every named link (all when None) back to plain ``pass``."""
        self.set(self.names() if names is None else list(names), PASS)

    def stats(self) -> dict[str, int]:
        """Connections accepted so far, per link."""
        return {n: link.accepted for n, link in sorted(self._links.items())}

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._close(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        for link in self._links.values():
            if link.server is not None:
                link.server.close()
        await self._set(list(self._links), LinkState(RESET))
        for link in self._links.values():
            for task in list(link.tasks):
                task.cancel()

    def __enter__(self) -> ProxyNet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- forwarding ----------------------------------------------------------------------

    async def _accept(self, link: _Link, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        link.accepted += 1
        task = asyncio.current_task()
        link.tasks.add(task)
        pair = (writer, None)
        try:
            if link.state.mode == RESET:
                _abort(writer)
                return
            link.connections.add(pair)
            await link.open.wait()
            if link.state.mode == RESET or pair not in link.connections:
                _abort(writer)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*link.target)
            except OSError:
                _abort(writer)   # the target is down: as a refused connection
                return
            link.connections.discard(pair)
            pair = (writer, up_writer)
            link.connections.add(pair)
            await asyncio.gather(self._pump(link, reader, up_writer, pair),
                                 self._pump(link, up_reader, writer, pair),
                                 return_exceptions=True)
        except asyncio.CancelledError:
            pass   # closing the net; asyncio's server callback would log a cancelled task
        finally:
            link.connections.discard(pair)
            link.tasks.discard(task)
            for w in pair:
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    async def _pump(self, link: _Link, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, pair: tuple) -> None:
        """Copy one direction; honours blackhole (no reads, no writes), delay and rate. An
        error on either end resets both, so the other direction does not wait forever.

        Delayed chunks go through a queue so reading goes on while earlier chunks wait: the
        delay is latency, not a cap on throughput (the rate is the cap)."""
        queue: asyncio.Queue = asyncio.Queue()

        async def writer_side() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    break
                due, data = item
                await link.open.wait()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                rate = link.state.rate
                if rate:   # the chunk takes its time on the wire before it arrives
                    await asyncio.sleep(len(data) / rate)
                await link.open.wait()
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(Exception):
                writer.write_eof()

        out = asyncio.ensure_future(writer_side())
        try:
            while True:
                await link.open.wait()
                data = await reader.read(_CHUNK if not link.state.rate else
                                         max(1024, min(_CHUNK, int(link.state.rate / 10))))
                if not data:
                    break
                queue.put_nowait((time.monotonic() + link.state.delay_s, data))
                while queue.qsize() > 64:   # bound memory: stop reading, as a full buffer
                    await asyncio.sleep(0.01)
            queue.put_nowait(None)
            await out
        except (OSError, asyncio.IncompleteReadError):
            for w in pair:
                _abort(w)
        finally:
            if not out.done():
                out.cancel()
