"""kafka-dump-log.sh: Kafka's DumpLogSegments lines for segments, indexes and their checks."""

from __future__ import annotations

import struct

import pytest
from click.testing import CliRunner

from kafkalite.cli.dump_log import Dumper, DumpOptions, kafka_dump_log
from kafkalite.compression import GZIP
from kafkalite.model import TopicPartition
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch, build_control_batch, build_legacy_message_set
from kafkalite.records.control import ControlType
from kafkalite.storage.config import LogConfig
from kafkalite.storage.log import Log

TS = 1_700_000_000_000
LOG = "00000000000000000000.log"


def _batch(base_offset, records, **kw) -> bytes:
    buf = bytearray(build_batch(records, base_offset=base_offset, **kw))
    view = RecordBatchView(memoryview(buf))
    view.set_partition_leader_epoch(0)
    return bytes(buf)


def _dump(path, **options) -> tuple[list[str], list[str]]:
    out, err = [], []
    dumper = Dumper(DumpOptions(**options), out.append)
    dumper.dump(str(path), err.append)
    dumper.report(err.append)
    return out, err


def test_batch_and_record_lines(tmp_path):
    first = _batch(0, [(b"k", b"hi", [], TS), (None, b"x", [("h1", b"v"), ("h2", None)], TS + 5)])
    second = _batch(2, [(b"key", None, [], TS + 9)], compression=GZIP, producer_id=7,
                    producer_epoch=1, base_sequence=4)
    (tmp_path / LOG).write_bytes(first + second)
    crc1, crc2 = (RecordBatchView(memoryview(b)).crc for b in (first, second))

    out, err = _dump(tmp_path / LOG)
    assert err == []
    assert out == [
        f"Dumping {tmp_path / LOG}",
        "Starting offset: 0",
        "baseOffset: 0 lastOffset: 1 count: 2 baseSequence: -1 lastSequence: -1 producerId: -1 "
        "producerEpoch: -1 partitionLeaderEpoch: 0 isTransactional: false isControl: false "
        f"position: 0 CreateTime: {TS + 5} size: {len(first)} magic: 2 compresscodec: none "
        f"crc: {crc1} isvalid: true",
        "baseOffset: 2 lastOffset: 2 count: 1 baseSequence: 4 lastSequence: 4 producerId: 7 "
        "producerEpoch: 1 partitionLeaderEpoch: 0 isTransactional: false isControl: false "
        f"position: {len(first)} CreateTime: {TS + 9} size: {len(second)} magic: 2 "
        f"compresscodec: gzip crc: {crc2} isvalid: true",
    ]

    out, _ = _dump(tmp_path / LOG, print_data_log=True)
    assert [x for x in out if x.startswith("|")] == [
        f"| offset: 0 CreateTime: {TS} keySize: 1 valueSize: 2 sequence: -1 headerKeys: [] "
        "key: k payload: hi",
        f"| offset: 1 CreateTime: {TS + 5} keySize: -1 valueSize: 1 sequence: -1 "
        "headerKeys: [h1,h2] payload: x",
        f"| offset: 2 CreateTime: {TS + 9} keySize: 3 valueSize: -1 sequence: 4 headerKeys: [] "
        "key: key",
    ]
    out, _ = _dump(tmp_path / LOG, deep_iteration=True)
    assert out[3] == f"| offset: 0 CreateTime: {TS} keySize: 1 valueSize: 2 sequence: -1 " \
                     "headerKeys: []"
    out, _ = _dump(tmp_path / LOG, print_data_log=True, skip_record_metadata=True)
    # Kafka's quirk: without metadata a record without key starts with " payload:"
    assert out[3:5] == ["| key: k payload: hi", " payload: x"] and out[6] == "| key: key"


def test_control_batches_corruption_and_gaps(tmp_path):
    data = _batch(0, [(b"a", b"1", [], TS)]) + _batch(5, [(b"b", b"2", [], TS)])
    marker = bytearray(build_control_batch(ControlType.COMMIT, producer_id=3, producer_epoch=0,
                                           coordinator_epoch=9, timestamp_ms=TS, base_offset=6))
    corrupt = bytearray(_batch(7, [(b"c", b"3", [], TS)]))
    corrupt[-1] ^= 0xFF                    # a flipped byte: the CRC no longer matches
    (tmp_path / LOG).write_bytes(data + bytes(marker) + bytes(corrupt) + b"\x00" * 7)

    out, err = _dump(tmp_path / LOG, print_data_log=True)
    batches = [x for x in out if x.startswith("baseOffset")]
    assert [x.rsplit(" ", 1)[1] for x in batches] == ["true", "true", "true", "false"]
    assert "isTransactional: true isControl: true" in batches[2]
    assert f"| offset: 6 CreateTime: {TS} keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] " \
           "endTxnMarker: COMMIT coordinatorEpoch: 9" in out
    assert out[-1] == f"Found 7 invalid bytes at the end of {LOG}"
    assert err == [f"Non-consecutive offsets in {(tmp_path / LOG).absolute()}",
                   "  0 is followed by 5"]


def test_legacy_messages(tmp_path):
    data = build_legacy_message_set([(b"k", b"v", [], TS)], magic=1)
    (tmp_path / LOG).write_bytes(data)
    out, _ = _dump(tmp_path / LOG, print_data_log=True)
    assert out[2].startswith(f"offset: 0 position: 0 CreateTime: {TS} size: {len(data)} "
                             "magic: 1 compresscodec: none crc: ")
    assert out[2].endswith("isvalid: true")
    assert out[3] == f"| offset: 0 CreateTime: {TS} keySize: 1 valueSize: 1 key: k payload: v"


@pytest.fixture
def segment(tmp_path):
    """A real segment written by the storage layer, an index entry for every batch."""
    log = Log.open(tmp_path / "t-0", LogConfig(index_interval_bytes=1))
    for i in range(6):
        batch = bytearray(build_batch([(b"k", b"v%d" % i, [], TS + i)] * 2))
        log.append_as_leader([(memoryview(batch), 2)], leader_epoch=0, now_ms=TS)
    log.flush()
    log.close()
    return tmp_path / "t-0"


def test_index_dump_and_verification(segment):
    index = segment / "00000000000000000000.index"
    out, err = _dump(index)
    entries = out[1:]
    assert len(entries) == 5 and err == []
    assert entries[0].startswith("offset: 3 position: ")
    out, err = _dump(index, verify_index_only=True)
    assert out == [f"Dumping {index}"] and err == []
    out, _ = _dump(index, index_sanity_check=True)
    assert out[-1] == f"{index} passed sanity check."

    # point an entry at the wrong batch: reported at the end, like Kafka does
    raw = bytearray(index.read_bytes())
    struct.pack_into(">i", raw, 8, 99)
    index.write_bytes(bytes(raw))
    out, err = _dump(index)
    assert err == [f"Mismatches in :{index.absolute()}", "  Index offset: 99, log offset: 5"]

    index.write_bytes(b"")
    out, _ = _dump(index)
    assert out[-1] == f"{index} is empty."


def test_time_index_dump_and_verification(segment):
    timeindex = segment / "00000000000000000000.timeindex"
    out, err = _dump(timeindex)
    assert out[1:] == [f"timestamp: {TS + i} offset: {2 * i + 1}" for i in range(1, 6)]
    assert err == []
    raw = bytearray(timeindex.read_bytes())
    struct.pack_into(">q", raw, 12, TS + 50)     # 2nd entry: wrong timestamp, so the 3rd
    struct.pack_into(">i", raw, 44, 8)           # is out of order; 4th: offset 8 is mid-batch
    timeindex.write_bytes(bytes(raw))
    out, err = _dump(timeindex, verify_index_only=True)
    key = timeindex.absolute()
    assert err == [f"Found timestamp mismatch in :{key}",
                   f"  Index timestamp: {TS + 50}, log timestamp: {TS + 2}",
                   f"Found out of order timestamp in :{key}",
                   f"  Index timestamp: {TS + 3}, Previously indexed timestamp: {TS + 50}",
                   "The following indexed offsets are not found in the log.",
                   "Indexed offset: 8, found log offset: 9"]


def test_command_line(segment, tmp_path):
    (tmp_path / "x.weird").write_bytes(b"")
    runner = CliRunner()
    log_file = segment / LOG
    r = runner.invoke(kafka_dump_log, ["--files", f"{log_file},{tmp_path / 'x.weird'}",
                                       "--deep-iteration"])
    assert r.exit_code == 0
    assert r.output.count("| offset: ") == 12
    assert f"Ignoring unknown file {tmp_path / 'x.weird'}" in r.output
    r = runner.invoke(kafka_dump_log, [])
    assert r.exit_code == 2 and "Missing required argument \"[files]\"" in r.output
    r = runner.invoke(kafka_dump_log, ["--files", str(tmp_path / "missing.log")])
    assert r.exit_code == 1 and "Error dumping" in r.output


def test_transaction_log_decoder(tmp_path):
    from kafkalite.coordinator.transaction.log import TxnLogValue, encode_key, encode_value
    from kafkalite.coordinator.transaction.state import TxnState

    ongoing = TxnLogValue(producer_id=4000, producer_epoch=3, timeout_ms=60000,
                          state=TxnState.ONGOING,
                          partitions=(TopicPartition("foo", 1), TopicPartition("foo", 0),
                                      TopicPartition("bar", 2)),
                          last_update_ms=TS + 7, start_ms=TS)
    empty = TxnLogValue(producer_id=4001, producer_epoch=0, timeout_ms=15000,
                        state=TxnState.EMPTY, last_update_ms=TS + 9, start_ms=-1)
    data = (_batch(0, [(encode_key("app-1"), encode_value(ongoing), [], TS),
                       (encode_key("app-2"), encode_value(empty), [], TS + 1)])
            + _batch(2, [(encode_key("app-1"), None, [], TS + 2),        # a tombstone
                         (b"\x00\x07junk", b"\x00", [], TS + 3),          # an unknown key version
                         (encode_key("app-3"), b"\x00\x00\x01", [], TS + 4)]))  # cut short
    (tmp_path / LOG).write_bytes(data)

    out, err = _dump(tmp_path / LOG, print_data_log=True, transaction_log_decoder=True)
    assert err == []
    records = [x for x in out if x.startswith("|")]
    assert records[0] == (
        f"| offset: 0 CreateTime: {TS} keySize: 9 valueSize: {len(encode_value(ongoing))} "
        "sequence: -1 headerKeys: [] key: transaction_metadata::transactionalId=app-1 "
        "payload: producerId:4000,producerEpoch:3,state=Ongoing,"
        f"partitions=[foo-1,foo-0,bar-2],txnLastUpdateTimestamp={TS + 7},txnTimeoutMs=60000")
    assert records[1].endswith(
        "key: transaction_metadata::transactionalId=app-2 payload: producerId:4001,"
        f"producerEpoch:0,state=Empty,partitions=[],txnLastUpdateTimestamp={TS + 9},"
        "txnTimeoutMs=15000")
    assert records[2].endswith("valueSize: -1 sequence: -1 headerKeys: [] "
                               "key: transaction_metadata::transactionalId=app-1 "
                               "payload: <DELETE>")
    assert records[3].endswith("headerKeys: [] payload: Error at offset 3, skipping. "
                               "unknown key version 7 in the transaction log")
    assert "key: transaction_metadata::transactionalId=app-3 payload: Error at offset 4, " \
           "skipping. record truncated" in records[4]

    # Without the decoder the same records are printed as UTF-8 strings.
    plain, _ = _dump(tmp_path / LOG, print_data_log=True)
    assert "transaction_metadata::" not in "\n".join(plain)

    # On the command line the flag alone turns on deep iteration and printing.
    r = CliRunner().invoke(kafka_dump_log, ["--files", str(tmp_path / LOG),
                                            "--transaction-log-decoder", "--skip-record-metadata"])
    assert r.exit_code == 0
    lines = [x for x in r.output.splitlines() if x.startswith("|")]
    assert lines[0] == ("| key: transaction_metadata::transactionalId=app-1 payload: "
                        "producerId:4000,producerEpoch:3,state=Ongoing,partitions=[foo-1,foo-0,"
                        f"bar-2],txnLastUpdateTimestamp={TS + 7},txnTimeoutMs=60000")
