"""``kafka-dump-log.sh --files F`` (Kafka's DumpLogSegments): print segment files.

Per file, by suffix:

* ``.log``: ``Starting offset: <base>`` and one line per batch (``baseOffset: 0 lastOffset: 2
  count: 3 ... position: 0 CreateTime: ... size: 100 magic: 2 compresscodec: none crc: ...
  isvalid: true``); with ``--deep-iteration`` or ``--print-data-log`` one ``| offset: ...`` line
  per record (``--print-data-log`` adds ``key:``/``payload:`` decoded as UTF-8). Bytes after the
  last whole batch: ``Found N invalid bytes at the end of <name>``.
* ``.index``: ``offset: O position: P`` per entry, and the check that the batch at P ends at O;
  failures are listed at the end on stderr (``Mismatches in :<file>`` / ``  Index offset: O,
  log offset: L``).
* ``.timeindex``: ``timestamp: T offset: O`` per entry, checked against the batch ending at O
  (``Found timestamp mismatch in :<file>``, ``Found out of order timestamp in :<file>``,
  ``The following indexed offsets are not found in the log.``).
* ``.txnindex``: aborted transactions.

``--transaction-log-decoder`` (implies ``--print-data-log``) prints the records of a
``__transaction_state`` segment decoded, as Kafka 2.8's ``TransactionLog.formatRecordKeyAndValue``
does: ``key: transaction_metadata::transactionalId=<id> payload: producerId:<pid>,producerEpoch:
<e>,state=<State>,partitions=[t-0,...],txnLastUpdateTimestamp=<ms>,txnTimeoutMs=<ms>`` and
``payload: <DELETE>`` for a tombstone. Kafka 2.8 dies on a record it cannot parse; we print
``payload: Error at offset <o>, skipping. <reason>`` (the wording of Kafka's later parsers) and go
on, since a damaged log is exactly what one dumps.

``--verify-index-only`` checks without printing entries, ``--index-sanity-check`` runs the
broker's start-up check only (``<file> passed sanity check.``). The line formats are those of
Kafka's tool (the record line in the tidy form Kafka settled on after 2.8); offsets of
non-consecutive records seen in deep iteration are reported at the end like Kafka does.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import attrs
import click

from kafkalite.compression import codec_name
from kafkalite.errors import CorruptMessage, KafkaError
from kafkalite.storage.index import CorruptIndex

__all__ = ["main", "DumpOptions", "Dumper"]

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")
_TXN_ENTRY = struct.Struct(">hqqqq")
_LOG_OVERHEAD = 12
_MIN_ENTRY = 14           # smallest legacy message after offset + size
_V2_HEADER = 61
_TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime"}
_CONTROL_TYPES = {0: "ABORT", 1: "COMMIT", 2: "LEADER_CHANGE", 3: "SNAPSHOT_HEADER",
                  4: "SNAPSHOT_FOOTER"}
_MAX_SEQUENCE = 2**31 - 1


@attrs.frozen(kw_only=True)
class DumpOptions:
    print_data_log: bool = False
    deep_iteration: bool = False
    verify_index_only: bool = False
    index_sanity_check: bool = False
    skip_record_metadata: bool = False
    max_message_size: int = 5 * 1024 * 1024
    transaction_log_decoder: bool = False

    @property
    def deep(self) -> bool:
        return self.deep_iteration or self.print_data_log


@attrs.frozen
class _Entry:
    """One log entry (a v2 batch or a legacy message), as the tool prints it."""

    position: int
    buf: memoryview
    magic: int

    @property
    def size(self) -> int:
        return len(self.buf)

    @property
    def last_offset(self) -> int:
        if self.magic >= 2:
            return _INT64.unpack_from(self.buf, 0)[0] + _INT32.unpack_from(self.buf, 23)[0]
        return _INT64.unpack_from(self.buf, 0)[0]


def _walk(data: memoryview) -> tuple[list[_Entry], int]:
    """Whole entries of a segment and the number of bytes they cover (the valid prefix)."""
    out, pos, end = [], 0, len(data)
    while pos + _LOG_OVERHEAD <= end:
        length = _INT32.unpack_from(data, pos + 8)[0]
        if length < _MIN_ENTRY or pos + _LOG_OVERHEAD + length > end:
            break
        size = _LOG_OVERHEAD + length
        magic = data[pos + 16]
        if magic >= 2 and size < _V2_HEADER:
            break
        out.append(_Entry(pos, data[pos:pos + size], magic))
        pos += size
    return out, pos


def _batch_line(e: _Entry) -> str:
    """Kafka's printBatchLevel."""
    from kafkalite.records.batch import RecordBatchView

    if e.magic >= 2:
        b = RecordBatchView(e.buf)
        head = (f"baseOffset: {b.base_offset} lastOffset: {b.last_offset} "
                f"count: {b.records_count} baseSequence: {b.base_sequence} "
                f"lastSequence: {b.last_sequence} producerId: {b.producer_id} "
                f"producerEpoch: {b.producer_epoch} "
                f"partitionLeaderEpoch: {b.partition_leader_epoch} "
                f"isTransactional: {_bool(b.is_transactional)} isControl: {_bool(b.is_control)}")
        ts_type, max_ts = _TIMESTAMP_TYPES[b.timestamp_type], b.max_timestamp
        codec, crc, valid = b.compression, b.crc, b.is_valid()
    else:
        head = f"offset: {e.last_offset}"
        attributes = e.buf[17]
        if e.magic == 0:
            ts_type, max_ts = "NoTimestampType", -1
        else:
            ts_type = _TIMESTAMP_TYPES[1 if attributes & 0x08 else 0]
            max_ts = _INT64.unpack_from(e.buf, 18)[0]
        codec = attributes & 0x07
        crc = _UINT32.unpack_from(e.buf, 12)[0]
        valid = crc == zlib.crc32(e.buf[16:]) & 0xFFFFFFFF
    return (f"{head} position: {e.position} {ts_type}: {max_ts} size: {e.size} "
            f"magic: {e.magic} compresscodec: {codec_name(codec)} crc: {crc} "
            f"isvalid: {_bool(valid)}")


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _string(data: bytes) -> str:
    """Kafka's StringDecoder: UTF-8, malformed input replaced."""
    return data.decode("utf-8", "replace")


class Dumper:
    """Dumps files to ``out`` and collects the problems Kafka reports at the end.

    Args:
        options: the command-line switches.
        out: prints one line of normal output.
    """

    def __init__(self, options: DumpOptions, out: Callable[[str], None] = click.echo):
        self.options = options
        self.out = out
        self.index_mismatches: dict[str, list[tuple[int, int]]] = {}
        self.time_mismatches: dict[str, list[tuple[int, int]]] = {}
        self.out_of_order: dict[str, list[tuple[int, int]]] = {}
        self.not_found: dict[str, list[tuple[int, int]]] = {}
        self.non_consecutive: dict[str, list[tuple[int, int]]] = {}
        self.failed = False

    # -- dispatch -------------------------------------------------------------------------

    def dump(self, name: str, err: Callable[[str], None]) -> None:
        """Dump one file named on the command line."""
        self.out(f"Dumping {name}")
        path = Path(name)
        suffix = path.suffix
        try:
            if suffix == ".log":
                self.dump_log(path)
            elif suffix == ".index":
                self.dump_index(path)
            elif suffix == ".timeindex":
                self.dump_time_index(path)
            elif suffix == ".txnindex":
                self.dump_txn_index(path)
            else:
                err(f"Ignoring unknown file {name}")
        except (OSError, ValueError, KafkaError, CorruptIndex) as e:
            err(f"Error dumping {name}: {e}")
            self.failed = True

    # -- .log -----------------------------------------------------------------------------

    def dump_log(self, path: Path) -> None:
        base = int(path.name.split(".")[0])
        self.out(f"Starting offset: {base}")
        data = memoryview(path.read_bytes())
        entries, valid_bytes = _walk(data)
        last_offset = -1
        for e in entries:
            self.out(_batch_line(e))
            if not self.options.deep:
                continue
            for line, offset in self._record_lines(e):
                if last_offset != -1 and offset != last_offset + 1:
                    self.non_consecutive.setdefault(str(path.absolute()), []).insert(
                        0, (last_offset, offset))
                last_offset = offset
                self.out(line)
        trailing = len(data) - valid_bytes
        if trailing > 0:
            self.out(f"Found {trailing} invalid bytes at the end of {path.name}")

    def _record_lines(self, e: _Entry):
        """``(line, offset)`` per record of one entry (Kafka's deep iteration)."""
        from kafkalite.records.batch import RecordBatchView
        from kafkalite.records.legacy import decode_legacy_entry
        from kafkalite.records.record import decode_records

        try:
            if e.magic >= 2:
                batch = RecordBatchView(e.buf)
                records = decode_records(batch)
            else:
                batch = None
                records = decode_legacy_entry(e.buf)
        except (CorruptMessage, KafkaError) as exc:
            self.out(f"| cannot decode the records at position {e.position}: {exc}")
            return
        opts = self.options
        for r in records:
            prefix = "| "
            parts = []
            if not opts.skip_record_metadata:
                ts_type = _TIMESTAMP_TYPES.get(r.timestamp_type, "CreateTime") \
                    if batch is not None or e.magic > 0 else "NoTimestampType"
                line = (f"{prefix}offset: {r.offset} {ts_type}: {r.timestamp} "
                        f"keySize: {-1 if r.key is None else len(r.key)} "
                        f"valueSize: {-1 if r.value is None else len(r.value)}")
                prefix = " "
                if batch is not None:
                    base_seq = batch.base_sequence
                    seq = -1 if base_seq < 0 else \
                        (base_seq + r.offset - batch.base_offset) % (_MAX_SEQUENCE + 1)
                    line += (f" sequence: {seq} headerKeys: "
                             f"[{','.join(h.key for h in r.headers)}]")
                    if batch.is_control:
                        line += _control_text(r)
                parts.append(line)
            if opts.print_data_log and not (batch is not None and batch.is_control):
                if opts.transaction_log_decoder:
                    key, payload = _transaction_log_record(r)
                else:
                    key = None if r.key is None else _string(r.key)
                    payload = None if r.value is None else _string(r.value)
                if key is not None:
                    parts.append(f"{prefix}key: {key}")
                    prefix = " "
                if payload is not None:
                    parts.append(f" payload: {payload}")
            yield "".join(parts), r.offset

    # -- .index ---------------------------------------------------------------------------

    def dump_index(self, path: Path) -> None:
        from kafkalite.storage.index import OffsetIndex

        base = int(path.name.split(".")[0])
        raw = path.read_bytes()
        entries = [(base + rel, pos) for rel, pos in
                   _OFFSET_ENTRY.iter_unpack(raw[:len(raw) - len(raw) % _OFFSET_ENTRY.size])]
        if not entries:
            self.out(f"{path} is empty.")
            return
        if self.options.index_sanity_check:
            OffsetIndex(path, base, max(len(raw), 8)).sanity_check()
            self.out(f"{path} passed sanity check.")
            return
        log_data = _read_log_of(path)
        for i, (offset, position) in enumerate(entries):
            if offset == base and i > 0:    # zero padding of a preallocated index
                return
            found = _walk(log_data[position:position + self.options.max_message_size])[0] \
                if 0 <= position < len(log_data) else []
            batch_last = found[0].last_offset if found else -1
            if batch_last != offset:
                self.index_mismatches.setdefault(str(path.absolute()), []).insert(
                    0, (offset, batch_last))
            if not self.options.verify_index_only:
                self.out(f"offset: {offset} position: {position}")

    # -- .timeindex -----------------------------------------------------------------------

    def dump_time_index(self, path: Path) -> None:
        from kafkalite.storage.index import TimeIndex

        base = int(path.name.split(".")[0])
        raw = path.read_bytes()
        if self.options.index_sanity_check:
            TimeIndex(path, base, max(len(raw), 12)).sanity_check()
            self.out(f"{path} passed sanity check.")
            return
        entries = [(ts, base + rel) for ts, rel in
                   _TIME_ENTRY.iter_unpack(raw[:len(raw) - len(raw) % _TIME_ENTRY.size])]
        log_data = _read_log_of(path)
        index_path = path.with_suffix(".index")
        offsets = _read_offset_index(index_path, base)
        key = str(path.absolute())
        prev_ts = -1
        for i, (timestamp, offset) in enumerate(entries):
            if offset == base and i > 0:
                return
            position = _lookup(offsets, offset)
            batches = _walk(log_data[position:])[0] if position < len(log_data) else []
            batch = next((b for b in batches if b.last_offset >= offset), None)
            if batch is None:
                self.not_found.setdefault(key, []).append((offset, -1))
            elif batch.last_offset != offset:
                self.not_found.setdefault(key, []).append((offset, batch.last_offset))
            else:
                max_ts = _max_record_timestamp(batch)
                if max_ts != timestamp:
                    self.time_mismatches.setdefault(key, []).append((timestamp, max_ts))
                if prev_ts >= timestamp:
                    self.out_of_order.setdefault(key, []).append((timestamp, prev_ts))
            if not self.options.verify_index_only:
                self.out(f"timestamp: {timestamp} offset: {offset}")
            prev_ts = timestamp

    # -- .txnindex ------------------------------------------------------------------------

    def dump_txn_index(self, path: Path) -> None:
        raw = path.read_bytes()
        for version, pid, first, last, lso in _TXN_ENTRY.iter_unpack(
                raw[:len(raw) - len(raw) % _TXN_ENTRY.size]):
            self.out(f"version: {version} producerId: {pid} firstOffset: {first} "
                     f"lastOffset: {last} lastStableOffset: {lso}")

    # -- the final report -----------------------------------------------------------------

    def report(self, err: Callable[[str], None]) -> None:
        """Print the collected problems in Kafka's order and wording."""
        for name, items in self.index_mismatches.items():
            err(f"Mismatches in :{name}")
            for index_offset, log_offset in items:
                err(f"  Index offset: {index_offset}, log offset: {log_offset}")
        for name, items in self.time_mismatches.items():
            err(f"Found timestamp mismatch in :{name}")
            for index_ts, log_ts in items:
                err(f"  Index timestamp: {index_ts}, log timestamp: {log_ts}")
        for name, items in self.out_of_order.items():
            err(f"Found out of order timestamp in :{name}")
            for index_ts, prev_ts in items:
                err(f"  Index timestamp: {index_ts}, Previously indexed timestamp: {prev_ts}")
        for items in self.not_found.values():
            err("The following indexed offsets are not found in the log.")
            for index_offset, log_offset in items:
                err(f"Indexed offset: {index_offset}, found log offset: {log_offset}")
        for name, items in self.non_consecutive.items():
            err(f"Non-consecutive offsets in {name}")
            for first, second in items:
                err(f"  {first} is followed by {second}")


def _control_text(record) -> str:
    from kafkalite.records.control import parse_control_record

    try:
        control = parse_control_record(record)
    except CorruptMessage:
        return " controlType: UNKNOWN(-1)"
    name = _CONTROL_TYPES.get(control.type, "UNKNOWN")
    if control.type in (0, 1):
        return f" endTxnMarker: {name} coordinatorEpoch: {control.coordinator_epoch}"
    return f" controlType: {name}({control.type})"


def _transaction_log_record(record) -> tuple[str | None, str]:
    """Key and payload text of a ``__transaction_state`` record (see the module docstring)."""
    from kafkalite.coordinator.transaction.log import SchemaError, format_key, format_value

    try:
        if record.key is None:
            raise SchemaError("the record has no key")
        key = format_key(record.key)
    except SchemaError as e:
        return None, f"Error at offset {record.offset}, skipping. {e}"
    try:
        return key, format_value(record.value)
    except SchemaError as e:
        return key, f"Error at offset {record.offset}, skipping. {e}"


def _max_record_timestamp(e: _Entry) -> int:
    from kafkalite.records.batch import RecordBatchView
    from kafkalite.records.legacy import decode_legacy_entry
    from kafkalite.records.record import decode_records

    try:
        records = decode_records(RecordBatchView(e.buf)) if e.magic >= 2 else \
            decode_legacy_entry(e.buf)
    except (CorruptMessage, KafkaError):
        return -1
    return max((r.timestamp for r in records), default=-1)


def _read_log_of(index_path: Path) -> memoryview:
    log_path = index_path.with_name(index_path.name.split(".")[0] + ".log")
    return memoryview(log_path.read_bytes())


def _read_offset_index(path: Path, base: int) -> list[tuple[int, int]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return [(base + rel, pos) for rel, pos in
            _OFFSET_ENTRY.iter_unpack(raw[:len(raw) - len(raw) % _OFFSET_ENTRY.size])]


def _lookup(entries: list[tuple[int, int]], offset: int) -> int:
    """Position of the largest offset-index entry <= ``offset`` (0 if none)."""
    position = 0
    for entry_offset, entry_position in entries:
        if entry_offset > offset:
            break
        position = entry_position
    return position


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--files", help="REQUIRED: The comma separated list of data and index log files "
              "to be dumped.")
@click.option("--print-data-log", is_flag=True,
              help="Print the messages' content (implies --deep-iteration).")
@click.option("--deep-iteration", is_flag=True, help="Print every record, not only batches.")
@click.option("--verify-index-only", is_flag=True,
              help="Just verify the index against the log without printing its content.")
@click.option("--index-sanity-check", is_flag=True,
              help="Just run the index sanity check the broker runs on start-up.")
@click.option("--max-message-size", type=int, default=5 * 1024 * 1024, show_default=True,
              help="Size of the largest message.")
@click.option("--skip-record-metadata", is_flag=True,
              help="Skip printing metadata for each record.")
@click.option("--transaction-log-decoder", is_flag=True,
              help="if set, log data will be parsed as transaction metadata from the "
                   "__transaction_state topic.")
@click.option("--key-decoder-class", default=None,
              help="Only kafka.serializer.StringDecoder (UTF-8) is supported.")
@click.option("--value-decoder-class", default=None,
              help="Only kafka.serializer.StringDecoder (UTF-8) is supported.")
def kafka_dump_log(files, print_data_log, deep_iteration, verify_index_only, index_sanity_check,
                   max_message_size, skip_record_metadata, transaction_log_decoder,
                   key_decoder_class, value_decoder_class) -> None:
    """Parse log segment files and dump their contents (for debugging a corrupt segment)."""
    if not files:
        raise click.UsageError("Missing required argument \"[files]\"")
    for decoder in (key_decoder_class, value_decoder_class):
        if decoder not in (None, "kafka.serializer.StringDecoder"):
            raise click.UsageError(f"Unsupported decoder class {decoder}: only "
                                   "kafka.serializer.StringDecoder is available")
    options = DumpOptions(
        print_data_log=(print_data_log or transaction_log_decoder
                        or bool(key_decoder_class or value_decoder_class)),
        deep_iteration=deep_iteration, verify_index_only=verify_index_only,
        index_sanity_check=index_sanity_check, skip_record_metadata=skip_record_metadata,
        max_message_size=max_message_size, transaction_log_decoder=transaction_log_decoder)
    dumper = Dumper(options)

    def err(line: str) -> None:
        click.echo(line, err=True)

    try:
        for name in files.split(","):
            if name:
                dumper.dump(name, err)
        dumper.report(err)
    except BrokenPipeError:   # ``kafka-dump-log.sh ... | head``
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(1 if dumper.failed else 0)


main = kafka_dump_log

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.dump_log")
