"""The client side of incremental fetch sessions (KIP-227), sans-IO.

A fetcher that polls the same partitions of one broker over and over (a follower, a consumer)
need not list them all in every Fetch. With a session the broker remembers, per partition, the
fetch offset, log start offset, max bytes and current leader epoch last sent, and answers only
the partitions that have something new (records, a moved high watermark or log start offset, an
error). Both sides then carry a few bytes per fetch instead of every partition.

The wire contract, per Fetch request (v7+):

* session id 0, epoch 0: a **full** fetch listing every partition wanted; the broker answers all
  of them and, if it admits a session, returns its new id (else 0: no session, keep sending full
  fetches).
* session id X, epoch N >= 1: an **incremental** fetch listing only partitions that are new to
  the session or whose fetch state changed, plus ``forgotten_topics_data`` for partitions that
  left; the answer names only changed partitions. Each successful answer moves the epoch on by
  one (after 2**31-1 it wraps to 1).
* a top-level FETCH_SESSION_ID_NOT_FOUND (70): the session is gone; the next request is full
  again (id 0, epoch 0).
* INVALID_FETCH_SESSION_EPOCH (71), a response the session cannot explain, a lost connection, a
  new connection or a request whose answer never came: the broker's view of the session is
  unknown, so the next request is full too, but names the old session (id X, epoch 0) so the
  broker closes it while it creates the new one, as Kafka's client does (``nextCloseExisting``):
  otherwise every reconnection of every follower would leave a dead session taking a slot of
  the broker's cache until it is evicted.

:class:`FetchSessionHandler` keeps one broker's session: :meth:`~FetchSessionHandler.build`
turns "the partitions I want now" into the next request's session fields,
:meth:`~FetchSessionHandler.handle_response` adopts or drops the session from the answer and says
whether the answer may be used, :meth:`~FetchSessionHandler.handle_error` forgets the session
after a failed request. It is Kafka's Java ``FetchSessionHandler`` without the I/O: no sockets,
no clocks; one handler per (client, broker connection), used by one task at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import attrs

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.messages.fetch import FetchPartition, FetchTopic, ForgottenTopic

__all__ = ["FINAL_EPOCH", "INITIAL_EPOCH", "INVALID_SESSION_ID", "FetchRequestData",
           "FetchSessionHandler", "PartitionState", "next_epoch"]

log = logging.getLogger(__name__)

INVALID_SESSION_ID = 0   # "no session": with epoch 0 it asks for a new one
INITIAL_EPOCH = 0        # a full fetch
FINAL_EPOCH = -1         # closes the session (and, with id 0, a sessionless full fetch)
_MAX_EPOCH = 2**31 - 1


def next_epoch(epoch: int) -> int:
    """The epoch after ``epoch``; wraps to 1 (0 would mean a full fetch)."""
    return 1 if epoch >= _MAX_EPOCH else epoch + 1


@attrs.frozen
class PartitionState:
    """What the client asks of one partition; a change in any field is sent again."""

    fetch_offset: int
    max_bytes: int
    log_start_offset: int = -1
    current_leader_epoch: int = -1


@attrs.frozen
class FetchRequestData:
    """The session part of one Fetch request, as :meth:`FetchSessionHandler.build` made it.

    ``to_send`` is what goes into ``topics``; ``session`` every partition the request is
    about (all wanted ones, including those the broker already knows); ``forgotten`` the
    partitions that left the session.
    """

    session_id: int
    session_epoch: int
    to_send: Mapping[TopicPartition, PartitionState]
    session: Mapping[TopicPartition, PartitionState]
    forgotten: tuple[TopicPartition, ...] = ()

    @property
    def is_full(self) -> bool:
        return self.session_epoch in (INITIAL_EPOCH, FINAL_EPOCH)

    def topics(self) -> tuple[FetchTopic, ...]:
        """``to_send`` as the request's topics, partitions grouped under their topic."""
        by_topic: dict[str, list[FetchPartition]] = {}
        for tp, st in self.to_send.items():
            by_topic.setdefault(tp.topic, []).append(FetchPartition(
                partition=tp.partition, current_leader_epoch=st.current_leader_epoch,
                fetch_offset=st.fetch_offset, log_start_offset=st.log_start_offset,
                partition_max_bytes=st.max_bytes))
        return tuple(FetchTopic(topic=t, partitions=tuple(ps)) for t, ps in by_topic.items())

    def forgotten_topics_data(self) -> tuple[ForgottenTopic, ...]:
        by_topic: dict[str, list[int]] = {}
        for tp in self.forgotten:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        return tuple(ForgottenTopic(topic=t, partitions=tuple(ps)) for t, ps in by_topic.items())


class FetchSessionHandler:
    """One broker's fetch session, seen from the client.

    Invariant: when ``session_id`` is non-zero and ``epoch`` is not 0, ``_session`` is exactly
    the partition states the broker's session holds after the last request sent (if that
    request succeeds); any doubt about that (an error, a lost answer) sets ``epoch`` to 0 so
    the next request is full, re-establishes both sides and closes the old session.

    Args:
        node_id: the broker, for log lines only.
        enabled: False for brokers or versions without sessions (Fetch < v7): every request
            is a sessionless full fetch (id 0, epoch -1).
    """

    def __init__(self, node_id: int = -1, *, enabled: bool = True):
        self.node_id = node_id
        self.enabled = enabled
        self.session_id = INVALID_SESSION_ID
        self.epoch = INITIAL_EPOCH   # the epoch the next request carries
        self._session: dict[TopicPartition, PartitionState] = {}

    @property
    def session_partitions(self) -> Mapping[TopicPartition, PartitionState]:
        return self._session

    def reset(self) -> None:
        """Forget the session: the next request is a full fetch asking for a new one."""
        self.session_id = INVALID_SESSION_ID
        self.epoch = INITIAL_EPOCH
        self._session = {}

    def close_existing(self) -> None:
        """The next request is a full fetch that also closes the current session (if any)."""
        self.epoch = INITIAL_EPOCH
        self._session = {}

    def close_request(self) -> FetchRequestData | None:
        """The request that closes the session (its id, the FINAL epoch, no partitions), or
        None when there is none; the handler forgets the session either way. A consumer
        sends it when it closes, as Kafka's does (``notifyClose``), so its slot in the
        broker's session cache is free at once instead of after the eviction time."""
        session_id = self.session_id
        self.reset()
        if not self.enabled or session_id == INVALID_SESSION_ID:
            return None
        return FetchRequestData(session_id, FINAL_EPOCH, {}, {})

    def build(self, wanted: Mapping[TopicPartition, PartitionState]) -> FetchRequestData:
        """The next request for ``wanted`` (every partition the caller fetches now, in the
        order it wants them listed in a full fetch)."""
        wanted = dict(wanted)
        if not self.enabled:
            return FetchRequestData(INVALID_SESSION_ID, FINAL_EPOCH, wanted, wanted)
        if self.session_id == INVALID_SESSION_ID or self.epoch == INITIAL_EPOCH:
            self.epoch = INITIAL_EPOCH
            self._session = wanted
            return FetchRequestData(self.session_id, INITIAL_EPOCH, wanted, wanted)
        to_send = {tp: st for tp, st in wanted.items() if self._session.get(tp) != st}
        forgotten = tuple(tp for tp in self._session if tp not in wanted)
        self._session = wanted
        return FetchRequestData(self.session_id, self.epoch, to_send, wanted, forgotten)

    def handle_response(self, sent: FetchRequestData, error_code: int, session_id: int,
                        partitions: Iterable[TopicPartition]) -> bool:
        """Update the session from the answer to ``sent``.

        Args:
            sent: what :meth:`build` returned for this request.
            error_code, session_id: the response's top-level fields.
            partitions: every partition the response names.

        Returns:
            True if the response's partitions may be used; False if the response must be
            dropped (a top-level error, partitions the request did not ask about, an
            incremental answer from another session). Either
            way the handler is ready for the next :meth:`build`.
        """
        if not self.enabled:
            return error_code == 0
        if error_code:
            log.info("Node %d was unable to process the fetch request with session id %d "
                     "epoch %d: %s; the next fetch is a full one", self.node_id,
                     sent.session_id, sent.session_epoch, errors.for_code(error_code).__name__)
            if error_code == errors.FetchSessionIdNotFound.code:
                self.reset()
            else:
                self.close_existing()
            return False
        names = set(partitions)
        problem = self._verify(sent, names, session_id)
        if problem is not None:
            log.info("Node %d sent an invalid %s fetch response (session id %d epoch %d): %s; "
                     "the next fetch is a full one", self.node_id,
                     "full" if sent.is_full else "incremental", sent.session_id,
                     sent.session_epoch, problem)
            self.close_existing()
            return False
        if session_id == INVALID_SESSION_ID:
            # No session admitted (or the broker closed it): keep fetching in full.
            self.reset()
        elif sent.is_full:
            self.session_id, self.epoch = session_id, next_epoch(INITIAL_EPOCH)
        else:
            self.epoch = next_epoch(sent.session_epoch)
        return True

    def handle_error(self) -> None:
        """The request failed or its answer will never be read (lost connection, timeout,
        cancellation), or the next request goes over a new connection: the broker may or may
        not have moved the session on, so the next fetch is full and closes it."""
        if self.session_id != INVALID_SESSION_ID:
            log.debug("Fetch to node %d failed; the next fetch is a full one", self.node_id)
        self.close_existing()

    def _verify(self, sent: FetchRequestData, names: set[TopicPartition],
                session_id: int) -> str | None:
        # A partition the broker does not answer is harmless (it holds what we sent either
        # way); one we never asked about means the two sides disagree on the session.
        extra = names - set(sent.session)
        if extra:
            return "it names partitions not in the fetch: " + ", ".join(sorted(map(str, extra)))
        if not sent.is_full and session_id not in (INVALID_SESSION_ID, sent.session_id):
            return f"it names session {session_id}"
        return None
