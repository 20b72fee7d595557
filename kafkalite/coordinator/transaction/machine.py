"""The transaction coordinator, pure (KIP-98; Kafka 2.8's ``TransactionCoordinator`` +
``TransactionStateManager`` + the decisions of ``TransactionMarkerChannelManager``).

No I/O, no clock, no randomness: every call takes ``now_ms`` where time matters and returns a
:class:`~kafkalite.coordinator.results.Result` (see ``results.py`` for the effects contract).
Producer ids come from outside: the shell allocates one before each InitProducerId
(``fresh_producer_id``) and we use it only when an id is created or its epochs run out.

Ownership. This broker coordinates the transactional ids whose ``__transaction_state``
partition (:meth:`TransactionCoordinator.partition_for`) it leads. The *coordinator epoch* of
a partition is its leader epoch; it goes into every marker so partition leaders can reject a
deposed coordinator (TRANSACTION_COORDINATOR_FENCED). On leadership the shell replays the
partition (``begin_load`` / ``load_records`` / ``complete_load``, in ``loading.py``); requests
meanwhile get COORDINATOR_LOAD_IN_PROGRESS, and NOT_COORDINATOR once it is gone (``unload``).

Durability. Every state change is written to the log before it is believed (two-phase, see
``metadata.py``), and requests are answered after their record is committed:

- InitProducerId: EMPTY/COMPLETE_* -> EMPTY with the next epoch, answered after the append;
  ONGOING -> the running transaction is fenced and aborted first (answered
  CONCURRENT_TRANSACTIONS once the PrepareAbort record is written; the client retries).
- AddPartitionsToTxn / AddOffsetsToTxn: -> ONGOING, answered after the append.
- EndTxn: ONGOING -> PREPARE_COMMIT/ABORT, answered NONE once that record is written, at
  which point the markers are sent (``markers.py``); when every partition has its marker the
  COMPLETE_* record is written. Nobody waits for that: a client that retries EndTxn meanwhile
  gets CONCURRENT_TRANSACTIONS.

Parked requests are always answered: by ``append_completed``, or with NOT_COORDINATOR when
their partition is unloaded or reloaded (an append finishing later is then ignored). An append
or marker result that belongs to an earlier coordinator epoch, or to a metadata object that
has since been replaced, never touches the current state.

Deliberate differences from Kafka 2.8, where Kafka would throw an IllegalStateException:
an InitProducerId retry (expected epoch == last epoch) on an exhausted epoch is answered;
expiry skips ids with a pending transition; unexpected marker errors are retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from kafkalite import errors
from kafkalite.coordinator.offsets_topic import java_string_hash
from kafkalite.coordinator.results import Append, ErrorType, Result
from kafkalite.coordinator.transaction.loading import LoadingMixin, TxnPartition
from kafkalite.coordinator.transaction.log import encode_key, encode_value
from kafkalite.coordinator.transaction.markers import MarkersMixin
from kafkalite.coordinator.transaction.metadata import (
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TransactionMetadata, TxnTransitMetadata,
    is_epoch_exhausted)
from kafkalite.coordinator.transaction.results import (
    InitPidResult, ListedTxn, ListTxnsResult, Out, TombstoneWrite, TxnDescription, TxnWrite,
    map_append_error, response_for)
from kafkalite.coordinator.transaction.state import (
    EXPIRABLE, IllegalStateTransition, TxnState)

__all__ = ["TxnConfig", "TransactionCoordinator"]

S = TxnState


@attrs.frozen(kw_only=True)
class TxnConfig:
    """The broker settings the coordinator reads (Kafka names in the comments)."""

    num_partitions: int = 50                            # transaction.state.log.num.partitions
    max_timeout_ms: int = 900000                        # transaction.max.timeout.ms
    transactional_id_expiration_ms: int = 604800000     # transactional.id.expiration.ms
    marker_retry_backoff_ms: int = 100  # SendMarkers.retry_after_ms of a retry


class TransactionCoordinator(MarkersMixin, LoadingMixin):
    """All transactional ids of the ``__transaction_state`` partitions this broker leads.

    Args:
        config: the coordinator's settings. The shell owns the periodic calls
            (:meth:`abort_timed_out`, :meth:`expire_transactional_ids`) and producer id
            allocation; nothing here keeps timers.
    """

    def __init__(self, config: TxnConfig = TxnConfig()):
        self.config = config
        self._partitions: dict[int, TxnPartition] = {}   # loaded partitions
        self._loading: dict = {}                         # partition -> load state
        self._parked: dict[int, tuple[int, str]] = {}    # token -> (partition, kind)
        self._markers: dict = {}                         # transactional id -> pending markers
        self._next_token = 1

    # -- ownership and lookup ------------------------------------------------------------

    @property
    def owned(self) -> dict[int, int]:
        """Loaded partitions -> their coordinator epoch."""
        return {p: part.coordinator_epoch for p, part in self._partitions.items()}

    def partition_for(self, transactional_id: str) -> int:
        """Kafka's ``Utils.abs(transactionalId.hashCode) % n`` (``abs(MIN_VALUE)`` is 0)."""
        h = java_string_hash(transactional_id)
        return (0 if h == -2**31 else abs(h)) % self.config.num_partitions

    def coordinator_error(self, transactional_id: str) -> ErrorType:
        """COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR for the id's partition, or None."""
        return self._lookup(transactional_id)[0]

    def _lookup(self, transactional_id: str
                ) -> tuple[ErrorType, TxnPartition | None, TransactionMetadata | None]:
        p = self.partition_for(transactional_id)
        if p in self._loading:
            return errors.CoordinatorLoadInProgress, None, None
        part = self._partitions.get(p)
        if part is None:
            return errors.NotCoordinator, None, None
        return None, part, part.txns.get(transactional_id)

    def _current(self, transactional_id: str, coordinator_epoch: int
                 ) -> TransactionMetadata | None:
        """The cached metadata if its partition is still loaded at ``coordinator_epoch``."""
        error, part, txn = self._lookup(transactional_id)
        if error is not None or part.coordinator_epoch != coordinator_epoch:
            return None
        return txn

    def get(self, transactional_id: str) -> TransactionMetadata | None:
        """The metadata of an id of a loaded partition (tests and tools; do not mutate)."""
        return self._lookup(transactional_id)[2]

    def transactions(self) -> Iterator[TransactionMetadata]:
        """Every transactional id of the loaded partitions (tests and tools)."""
        for part in self._partitions.values():
            yield from part.txns.values()

    def _new_token(self, partition: int, kind: str) -> int:
        token = self._next_token
        self._next_token += 1
        self._parked[token] = (partition, kind)
        return token

    def _append_transit(self, out: Out, write: TxnWrite) -> None:
        tid = write.txn.transactional_id
        out.append(self.partition_for(tid),
                   [(encode_key(tid), encode_value(write.transit.to_log_value()))], write)

    # -- InitProducerId ------------------------------------------------------------------

    def init_producer_id(self, transactional_id: str, timeout_ms: int, *,
                         producer_id: int = NO_PRODUCER_ID,
                         producer_epoch: int = NO_PRODUCER_EPOCH, fresh_producer_id: int,
                         now_ms: int) -> Result:
        """InitProducerId for a transactional id; the answer is an :class:`InitPidResult`.

        Args:
            producer_id, producer_epoch: the producer's current id and epoch (v3+, KIP-360),
                both -1 when it has none.
            fresh_producer_id: an unused producer id, used if the id is new or its epochs
                are exhausted.
        """
        out = Out(self)
        error, part, txn = None, None, None
        if (producer_id == NO_PRODUCER_ID) != (producer_epoch == NO_PRODUCER_EPOCH) \
                or not transactional_id:
            error = errors.InvalidRequest
        elif not 0 < timeout_ms <= self.config.max_timeout_ms:
            error = errors.InvalidTransactionTimeout
        else:
            error, part, txn = self._lookup(transactional_id)
        if error is not None:
            out.respond(InitPidResult(error=error))
            return out.result()
        if txn is None:
            txn = part.txns[transactional_id] = TransactionMetadata(
                transactional_id=transactional_id, producer_id=fresh_producer_id,
                producer_epoch=NO_PRODUCER_EPOCH, timeout_ms=timeout_ms, last_update_ms=now_ms)
        expected = None if producer_id == NO_PRODUCER_ID else (producer_id, producer_epoch)
        transit = self._prepare_init(txn, timeout_ms, expected, fresh_producer_id, now_ms)
        if not isinstance(transit, TxnTransitMetadata):
            out.respond(InitPidResult(error=transit))
        elif transit.state is S.PREPARE_EPOCH_FENCE:
            self._end_transaction(out, txn, part, transit.producer_id, transit.producer_epoch,
                                  commit=False, from_client=False, reply_kind="init",
                                  now_ms=now_ms)
        else:
            token = out.park_token(part.partition, "init")
            self._append_transit(out, TxnWrite("init", txn, part.coordinator_epoch, transit,
                                               token, "init"))
        return out.result()

    @staticmethod
    def _prepare_init(txn: TransactionMetadata, timeout_ms: int,
                      expected: tuple[int, int] | None, fresh_producer_id: int, now_ms: int):
        """Kafka's ``prepareInitProducerIdTransit``: a transit, or an error class."""
        if txn.pending_transition_in_progress:
            return errors.ConcurrentTransactions
        if expected is not None:
            pid, epoch = expected
            # Valid: a just-created id, the current producer id, or a retry after a rotation.
            if not (txn.producer_epoch == NO_PRODUCER_EPOCH or pid == txn.producer_id
                    or (pid == txn.last_producer_id and is_epoch_exhausted(epoch))):
                return errors.ProducerFenced
        if txn.state.is_prepare:
            return errors.ConcurrentTransactions
        if txn.state is S.ONGOING:
            # Fence the running producer and abort its transaction; the bumped epoch is never
            # handed out: the client retries and gets the next one.
            return txn.prepare_fence_producer_epoch()
        if txn.state is S.EMPTY or txn.state.is_complete:
            if txn.is_epoch_exhausted and (expected is None or expected[1] == txn.producer_epoch):
                return txn.prepare_producer_id_rotation(fresh_producer_id, timeout_ms, now_ms,
                                                        record_last_epoch=expected is not None)
            return txn.prepare_increment_producer_epoch(
                timeout_ms, None if expected is None else expected[1], now_ms)
        raise IllegalStateTransition(
            f"{txn.transactional_id} is {txn.state.kafka_name}, which is never current")

    # -- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: Iterable, *, now_ms: int) -> Result:
        """AddPartitionsToTxn (AddOffsetsToTxn: the group's ``__consumer_offsets``
        partition); one error class (or None) for the whole request."""
        out = Out(self)
        added = frozenset(partitions)
        error, part, txn = (errors.InvalidRequest, None, None) if not transactional_id \
            else self._lookup(transactional_id)
        if error is None:
            if txn is None or txn.producer_id != producer_id:
                error = errors.InvalidProducerIdMapping
            elif txn.producer_epoch != producer_epoch:
                error = errors.ProducerFenced
            elif txn.pending_transition_in_progress or txn.state.is_prepare:
                error = errors.ConcurrentTransactions
            elif txn.state is S.ONGOING and added <= txn.partitions:
                pass  # already part of the transaction: nothing to write
            else:
                transit = txn.prepare_add_partitions(added, now_ms)
                token = out.park_token(part.partition, "add")
                self._append_transit(out, TxnWrite("add", txn, part.coordinator_epoch, transit,
                                                   token, "add"))
                return out.result()
        out.respond(error)
        return out.result()

    # -- EndTxn --------------------------------------------------------------------------

    def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int,
                commit: bool, *, now_ms: int) -> Result:
        """EndTxn; one error class (or None), answered once the PrepareCommit/PrepareAbort
        record is written (the markers are sent from then on)."""
        out = Out(self)
        error, part, txn = (errors.InvalidRequest, None, None) if not transactional_id \
            else self._lookup(transactional_id)
        if error is not None:
            out.respond(error)
        elif txn is None:
            out.respond(errors.InvalidProducerIdMapping)
        else:
            self._end_transaction(out, txn, part, producer_id, producer_epoch, commit=commit,
                                  from_client=True, reply_kind="end", now_ms=now_ms)
        return out.result()

    def _end_transaction(self, out: Out, txn: TransactionMetadata, part: TxnPartition,
                         producer_id: int, producer_epoch: int, *, commit: bool,
                         from_client: bool, reply_kind: str | None, now_ms: int) -> None:
        """Kafka's ``endTransaction``: answers ``reply_kind`` at once, or appends the
        PREPARE_* record and parks it. A fence (``from_client`` False after
        ``prepare_fence_producer_epoch``) passes the bumped epoch."""
        error: ErrorType = None
        target = S.PREPARE_COMMIT if commit else S.PREPARE_ABORT
        if txn.producer_id != producer_id:
            error = errors.InvalidProducerIdMapping
        elif (from_client and producer_epoch != txn.producer_epoch) \
                or producer_epoch < txn.producer_epoch:
            error = errors.ProducerFenced
        elif txn.pending_transition_in_progress \
                and txn.pending_state is not S.PREPARE_EPOCH_FENCE:
            error = errors.ConcurrentTransactions
        elif txn.state is S.ONGOING:
            epoch_fence = not commit and txn.pending_state is S.PREPARE_EPOCH_FENCE
            if epoch_fence:
                txn.take_fenced_epoch(producer_epoch)
            transit = txn.prepare_abort_or_commit(target, now_ms)
            token = out.park_token(part.partition, reply_kind) if reply_kind else None
            self._append_transit(out, TxnWrite("end", txn, part.coordinator_epoch, transit,
                                               token, reply_kind, commit, epoch_fence))
            return
        elif txn.state.is_complete:
            if (txn.state is S.COMPLETE_COMMIT) != commit:
                error = errors.InvalidTxnState
        elif txn.state.is_prepare:
            error = errors.ConcurrentTransactions if txn.state is target \
                else errors.InvalidTxnState
        elif txn.state is S.EMPTY:
            error = errors.InvalidTxnState
        else:
            raise IllegalStateTransition(
                f"{txn.transactional_id} is {txn.state.kafka_name}, which is never current")
        if reply_kind is not None:
            out.respond(response_for(reply_kind, error))

    def _prepare_written(self, out: Out, w: TxnWrite, error: ErrorType, now_ms: int) -> None:
        """The PREPARE_* record of an EndTxn or a fence is written (or failed)."""
        if error is None:
            error, part, txn = self._lookup(w.txn.transactional_id)
            if error is None:
                if txn is not w.txn or part.coordinator_epoch != w.coordinator_epoch:
                    error = errors.NotCoordinator
                elif txn.producer_id != w.transit.producer_id:
                    error = errors.InvalidProducerIdMapping
                elif txn.producer_epoch != w.transit.producer_epoch:
                    error = errors.ProducerFenced
                elif txn.pending_transition_in_progress:
                    error = errors.ConcurrentTransactions
                elif txn.state is not (S.PREPARE_COMMIT if w.commit else S.PREPARE_ABORT):
                    error = errors.InvalidTxnState
            if error is None:
                complete = txn.prepare_complete(now_ms)
                if w.reply_kind == "init":  # the fence is durable; the client must retry
                    out.reply(w.token, InitPidResult(error=errors.ConcurrentTransactions))
                elif w.reply_kind is not None:
                    out.reply(w.token, None)
                self._start_markers(out, txn, part.coordinator_epoch, w.commit, complete)
                return
        elif w.epoch_fence and self._current(w.txn.transactional_id,
                                             w.coordinator_epoch) is w.txn:
            # The bumped epoch is in memory but not in the log: do not bump it again.
            w.txn.has_failed_epoch_fence = True
        if w.reply_kind is not None:
            out.reply(w.token, response_for(w.reply_kind, error))

    # -- background: timeouts and expiry -------------------------------------------------

    def abort_timed_out(self, now_ms: int) -> Result:
        """Fence and abort ONGOING transactions older than their timeout
        (every transaction.abort.timed.out.transaction.cleanup.interval.ms)."""
        out = Out(self)
        for part in list(self._partitions.values()):
            for txn in list(part.txns.values()):
                if txn.pending_state is None and txn.state is S.ONGOING \
                        and txn.start_ms + txn.timeout_ms < now_ms:
                    fence = txn.prepare_fence_producer_epoch()
                    self._end_transaction(out, txn, part, fence.producer_id,
                                          fence.producer_epoch, commit=False,
                                          from_client=False, reply_kind=None, now_ms=now_ms)
        return out.result()

    def expire_transactional_ids(self, now_ms: int) -> Result:
        """Write tombstones for ids idle longer than transactional.id.expiration.ms (one
        Append per partition); they are forgotten once the tombstones are written
        (every transaction.remove.expired.transaction.cleanup.interval.ms)."""
        out = Out(self)
        horizon = now_ms - self.config.transactional_id_expiration_ms
        for p, part in self._partitions.items():
            entries = []
            for txn in part.txns.values():
                if txn.state in EXPIRABLE and txn.pending_state is None \
                        and txn.last_update_ms <= horizon:
                    txn.prepare_dead()
                    entries.append((txn, txn.producer_epoch))
            if entries:
                out.append(p, [(encode_key(t.transactional_id), None) for t, _ in entries],
                           TombstoneWrite(p, part.coordinator_epoch, tuple(entries)))
        return out.result()

    def _tombstones_written(self, w: TombstoneWrite, error: ErrorType) -> None:
        part = self._partitions.get(w.partition)
        for txn, epoch in w.entries:
            tid = txn.transactional_id
            if part is None or part.coordinator_epoch != w.coordinator_epoch \
                    or part.txns.get(tid) is not txn or txn.pending_state is not S.DEAD:
                continue  # unloaded or replaced meanwhile: not ours to touch
            if error is None and txn.producer_epoch == epoch:
                del part.txns[tid]
            else:
                txn.pending_state = None

    # -- appends -------------------------------------------------------------------------

    def append_completed(self, append: Append, error: ErrorType,
                         base_offset: int | None = None, *, now_ms: int) -> Result:
        """The records of ``append`` are committed (``error`` None) or failed with ``error``
        (the log append's error class). ``base_offset`` is accepted and unused."""
        out = Out(self)
        w = append.continuation
        if isinstance(w, TombstoneWrite):
            self._tombstones_written(w, error)
            return out.result()
        error = map_append_error(error)
        if w.kind == "complete":
            self._completion_written(out, w, error)
            return out.result()
        error = self._apply_write(w, error, retry=False)
        if w.kind == "end":
            self._prepare_written(out, w, error, now_ms)
        elif w.kind == "init" and error is None:
            out.reply(w.token, InitPidResult(producer_id=w.transit.producer_id,
                                             producer_epoch=w.transit.producer_epoch))
        else:
            out.reply(w.token, response_for(w.reply_kind, error))
        return out.result()

    def _apply_write(self, w: TxnWrite, error: ErrorType, *, retry: bool) -> ErrorType:
        """Kafka's append callback: complete the transition if the record is written and the
        metadata is still ours; otherwise clear the pending state (unless ``retry``: the same
        record will be appended again). Returns the error to report."""
        lookup_error, part, txn = self._lookup(w.txn.transactional_id)
        ours = lookup_error is None and txn is w.txn \
            and part.coordinator_epoch == w.coordinator_epoch
        if error is None:
            if lookup_error is not None:
                return lookup_error
            if not ours:
                return errors.NotCoordinator
            txn.complete_transition_to(w.transit)
            return None
        if ours and not retry:
            txn.pending_state = None
        return error

    # -- DescribeTransactions / ListTransactions -----------------------------------------

    def describe(self, transactional_ids: Iterable[str]) -> list[TxnDescription]:
        """DescribeTransactions: one entry per id, in request order."""
        out = []
        for tid in transactional_ids:
            error, _, txn = (errors.InvalidRequest, None, None) if not tid \
                else self._lookup(tid)
            if error is None and txn is None:
                error = errors.TransactionalIdNotFound
            if error is not None:
                out.append(TxnDescription(transactional_id=tid, error=error))
                continue
            out.append(TxnDescription(
                transactional_id=tid, state=txn.state.kafka_name, timeout_ms=txn.timeout_ms,
                start_ms=txn.start_ms, producer_id=txn.producer_id,
                producer_epoch=txn.producer_epoch, partitions=tuple(sorted(txn.partitions))))
        return out

    def list_transactions(self, state_filters: Iterable[str] = (),
                          producer_id_filters: Iterable[int] = ()) -> ListTxnsResult:
        """ListTransactions (KIP-664) over the loaded partitions. Unknown state names are
        reported back, not an error; with state filters only those states are listed."""
        if self._loading:
            return ListTxnsResult(error=errors.CoordinatorLoadInProgress)
        names = list(state_filters)
        states = {TxnState.from_name(n) for n in names} - {None}
        pids = set(producer_id_filters)
        listed = sorted(
            (ListedTxn(transactional_id=t.transactional_id, producer_id=t.producer_id,
                       state=t.state.kafka_name)
             for t in self.transactions()
             if (not pids or t.producer_id in pids) and (not names or t.state in states)),
            key=lambda t: t.transactional_id)
        return ListTxnsResult(
            unknown_state_filters=tuple(n for n in names if TxnState.from_name(n) is None),
            transactions=tuple(listed))
