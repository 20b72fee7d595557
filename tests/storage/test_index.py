import struct

import pytest

from kafkalite.storage import CorruptIndex, OffsetIndex, TimeIndex


def test_offset_index_append_lookup_and_file(tmp_path):
    path = tmp_path / "00000000000000000100.index"
    index = OffsetIndex(path, 100, 8 * 4)
    index.create()
    assert path.read_bytes() == b"" and index.lookup(150) == (100, 0)
    for offset, position in [(103, 600), (110, 1300), (120, 2000)]:
        index.append(offset, position)
    assert path.read_bytes() == struct.pack(">iiiiii", 3, 600, 10, 1300, 20, 2000)
    assert index.lookup(99) == (100, 0)
    assert index.lookup(103) == (103, 600)
    assert index.lookup(119) == (110, 1300)
    assert index.lookup(10**6) == (120, 2000)
    assert index.lookup_by_position(1299) == (103, 600)
    assert index.lookup_by_position(1300) == (110, 1300)
    with pytest.raises(ValueError):
        index.append(120, 2100)  # offsets must increase
    index.append(121, 2100)
    assert index.is_full
    with pytest.raises(ValueError):
        index.append(122, 2200)
    index.truncate_to(110)
    assert index.all_entries() == [(103, 600)]
    assert path.stat().st_size == 8
    index.truncate_to_position(600)
    assert index.entries == 0 and path.stat().st_size == 0
    index.close()


def test_offset_index_lazy_load_and_sanity(tmp_path):
    path = tmp_path / "x.index"
    path.write_bytes(struct.pack(">iiii", 1, 100, 5, 700))
    index = OffsetIndex(path, 50, 1024)
    assert index.lookup(56) == (55, 700)
    assert index.last_entry == (55, 700)
    index.sanity_check()
    path.write_bytes(struct.pack(">ii", 1, 100) + b"\x00")
    with pytest.raises(CorruptIndex):
        OffsetIndex(path, 50, 1024).sanity_check()
    path.write_bytes(struct.pack(">iiii", 5, 100, -1, 700))
    with pytest.raises(CorruptIndex):
        OffsetIndex(path, 50, 1024).sanity_check()
    with pytest.raises(ValueError):
        OffsetIndex(tmp_path / "y.index", 50, 1024).append(50 + 2**31, 0)


def test_time_index_semantics(tmp_path):
    path = tmp_path / "00000000000000000010.timeindex"
    index = TimeIndex(path, 10, 12 * 2)
    index.create()
    assert index.lookup(5) == (-1, 10) and index.last_entry == (-1, 10)
    index.maybe_append(1000, 12)
    index.maybe_append(1000, 14)  # not larger: skipped, as in Kafka
    index.maybe_append(900, 15)
    index.maybe_append(2000, 20)
    assert index.all_entries() == [(1000, 12), (2000, 20)]
    assert path.read_bytes() == struct.pack(">qiqi", 1000, 2, 2000, 10)
    assert index.lookup(999) == (-1, 10)
    assert index.lookup(1500) == (1000, 12)
    assert index.lookup(2000) == (2000, 20)
    with pytest.raises(ValueError):
        index.maybe_append(3000, 21)  # full
    index.maybe_append(3000, 21, skip_full_check=True)  # the final entry of a segment
    with pytest.raises(ValueError):
        index.maybe_append(4000, 19)  # offsets never go back
    index.truncate_to(20)
    assert index.all_entries() == [(1000, 12)]
    index.close()
    assert TimeIndex(path, 10, 100).all_entries() == [(1000, 12)]
    path.write_bytes(struct.pack(">qiqi", 2000, 2, 1000, 10))
    with pytest.raises(CorruptIndex):
        TimeIndex(path, 10, 100).sanity_check()


def test_deferred_rebuild_writes_once(tmp_path):
    path = tmp_path / "z.index"
    index = OffsetIndex(path, 0, 1024)
    index.create()
    index.append(1, 10)
    index.reset(defer_writes=True)
    index.append(2, 20)
    index.append(3, 30)
    assert path.read_bytes() == struct.pack(">ii", 1, 10)  # untouched until written out
    index.write_out()
    assert path.read_bytes() == struct.pack(">iiii", 2, 20, 3, 30)
    index.delete()
    assert not path.exists()
