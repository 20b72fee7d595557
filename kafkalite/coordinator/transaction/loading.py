"""Replaying a ``__transaction_state`` partition when this broker becomes its leader, and
forgetting it when leadership goes (part of the pure transaction coordinator).

Kafka's ``loadTransactionsForTxnTopicPartition`` / ``removeTransactionsForTxnTopicPartition``.
Between :meth:`LoadingMixin.begin_load` and :meth:`LoadingMixin.complete_load` requests for the
partition's ids get COORDINATOR_LOAD_IN_PROGRESS. Records are applied in log order, last write
wins, a tombstone removes the id. Unreadable records (null key, unknown version, bad bytes)
are counted and skipped, and so are records in a state that is never written (Dead,
PrepareEpochFence): the machine relies on those never being current.

A transaction found in PREPARE_COMMIT/PREPARE_ABORT was decided but maybe not finished: its
completion is staged and its markers are sent again (markers are idempotent on the partition
leaders, and carry the new coordinator epoch).

Every load carries the coordinator epoch; a replay whose epoch no longer matches is ignored.
Beginning a load or unloading drops whatever the partition had: its parked requests are
answered NOT_COORDINATOR, its pending markers forgotten, and appends or marker results still
in flight for it are ignored when they come back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from kafkalite import errors
from kafkalite.coordinator.results import Result
from kafkalite.coordinator.transaction.log import (
    SchemaError, TxnLogValue, decode_key, decode_value)
from kafkalite.coordinator.transaction.metadata import TransactionMetadata
from kafkalite.coordinator.transaction.results import Out, response_for
from kafkalite.coordinator.transaction.state import TxnState

if TYPE_CHECKING:
    from kafkalite.coordinator.transaction.machine import TransactionCoordinator

__all__ = ["LoadingMixin", "TxnPartition"]

_NEVER_WRITTEN = frozenset({TxnState.DEAD, TxnState.PREPARE_EPOCH_FENCE})


@attrs.define(eq=False)
class TxnPartition:
    """The transactional ids of one loaded partition (Kafka's ``TxnMetadataCacheEntry``)."""

    partition: int
    coordinator_epoch: int
    txns: dict[str, TransactionMetadata] = attrs.field(factory=dict)


@attrs.define
class _LoadState:
    coordinator_epoch: int
    values: dict[str, TxnLogValue] = attrs.field(factory=dict)
    skipped: int = 0


class LoadingMixin:
    """Loading and unloading of ``__transaction_state`` partitions."""

    def begin_load(self: TransactionCoordinator, partition: int,
                   coordinator_epoch: int) -> Result:
        """This broker became leader of ``partition`` at ``coordinator_epoch`` (its leader
        epoch): drop what we had, start replaying."""
        out = Out(self)
        self._drop_partition(out, partition)
        self._loading[partition] = _LoadState(coordinator_epoch)
        return out.result()

    def load_records(self: TransactionCoordinator, partition: int, coordinator_epoch: int,
                     records: Iterable[tuple[int, bytes | None, bytes | None]]) -> None:
        """Replay ``(offset, key, value)`` records of the partition, in log order."""
        state = self._loading.get(partition)
        if state is None or state.coordinator_epoch != coordinator_epoch:
            return
        for _offset, key, value in records:
            if key is None:
                state.skipped += 1
                continue
            try:
                tid = decode_key(key)
                v = decode_value(value)
            except SchemaError:
                state.skipped += 1
                continue
            if v is None:
                state.values.pop(tid, None)
            elif v.state in _NEVER_WRITTEN:
                state.skipped += 1
            else:
                state.values[tid] = v

    def complete_load(self: TransactionCoordinator, partition: int, coordinator_epoch: int, *,
                      now_ms: int) -> Result:
        """Serve the replayed partition; resume the markers of decided transactions."""
        out = Out(self)
        state = self._loading.get(partition)
        if state is None or state.coordinator_epoch != coordinator_epoch:
            return out.result()
        del self._loading[partition]
        part = self._partitions[partition] = TxnPartition(partition, coordinator_epoch)
        for tid, value in state.values.items():
            part.txns[tid] = TransactionMetadata.from_log_value(tid, value)
        for txn in list(part.txns.values()):
            if txn.state.is_prepare:
                complete = txn.prepare_complete(now_ms)
                self._start_markers(out, txn, coordinator_epoch,
                                    txn.state is TxnState.PREPARE_COMMIT, complete)
        return out.result()

    def load_stats(self: TransactionCoordinator, partition: int) -> tuple[int, int] | None:
        """(transactional ids, skipped records) replayed so far, for logging."""
        state = self._loading.get(partition)
        return None if state is None else (len(state.values), state.skipped)

    def is_loading(self: TransactionCoordinator) -> bool:
        return bool(self._loading)

    def unload(self: TransactionCoordinator, partition: int) -> Result:
        """Leadership of ``partition`` went away: forget its ids and markers, answer its
        parked requests with NOT_COORDINATOR."""
        out = Out(self)
        self._drop_partition(out, partition)
        return out.result()

    def _drop_partition(self: TransactionCoordinator, out: Out, partition: int) -> None:
        self._loading.pop(partition, None)
        part = self._partitions.pop(partition, None)
        if part is not None:
            for tid in part.txns:
                self._markers.pop(tid, None)
        for token, (p, kind) in list(self._parked.items()):
            if p == partition:
                out.reply(token, response_for(kind, errors.NotCoordinator))
