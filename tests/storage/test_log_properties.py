"""Property tests: rolling and offset lookup hold for any batch sizes and settings."""

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.storage import Log, LogConfig

from .batches import append, read_info, split_batches

batch_specs = st.lists(
    st.lists(st.tuples(st.integers(1, 6), st.integers(0, 900)), min_size=1, max_size=3),
    min_size=1, max_size=40)
configs = st.builds(
    LogConfig,
    segment_bytes=st.integers(2900, 6000),
    index_interval_bytes=st.integers(0, 1500),
    segment_index_bytes=st.sampled_from([24, 64, 10485760]),
)


def _append_all(log, calls):
    appended = []
    for specs in calls:
        _, bufs = append(log, *specs)
        appended += [bytes(b) for b in bufs]
    return appended


@settings(max_examples=40, deadline=None)
@given(calls=batch_specs, config=configs)
def test_roll_and_lookup(calls, config):
    with tempfile.TemporaryDirectory() as tmp:
        log = Log.open(Path(tmp) / "p-0", config)
        appended = _append_all(log, calls)
        batches = split_batches(b"".join(appended))
        segments = log.segments
        # roll: every segment within segment.bytes, base offset = its first batch's offset
        for segment in segments:
            assert 0 < segment.size <= config.segment_bytes or segment is segments[-1]
            assert segment.offset_index.entries <= config.segment_index_bytes // 8
            if segment.size:
                assert segment.read_header(0).base_offset == segment.base_offset
        # one call never spans two segments; a roll happens only when the call did not fit
        assert read_info(log.read(0, 10**9)) == b"".join(appended)
        # lookup: every offset lands on the batch containing it
        for base, last, raw in batches:
            for offset in {base, last, (base + last) // 2}:
                (b, l, r), = split_batches(read_info(log.read(offset, 1)))
                assert (b, l, r) == (base, last, raw)
        # indexes point at batch starts holding the recorded last offset
        for segment in segments:
            for offset, position in segment.offset_index.all_entries():
                assert segment.read_header(position).base_offset + \
                    segment.read_header(position).last_offset_delta == offset
        end = log.log_end_offset
        log.close()
        reopened = Log.open(Path(tmp) / "p-0", config, clean_shutdown=False)
        assert reopened.log_end_offset == end
        assert [s.offset_index.all_entries() for s in reopened.segments] == \
            [s.offset_index.all_entries() for s in segments]
        reopened.close()


@settings(max_examples=40, deadline=None)
@given(calls=batch_specs, data=st.data())
def test_read_returns_whole_batches_within_limits(calls, data):
    with tempfile.TemporaryDirectory() as tmp:
        log = Log.open(Path(tmp) / "p-0", LogConfig(segment_bytes=4096, index_interval_bytes=300))
        appended = _append_all(log, calls)
        batches = split_batches(b"".join(appended))
        fetch = data.draw(st.integers(0, log.log_end_offset))
        max_offset = data.draw(st.integers(fetch, log.log_end_offset))
        max_bytes = data.draw(st.integers(0, 20000))
        min_one = data.draw(st.booleans())
        info = log.read(fetch, max_bytes, max_offset=max_offset, min_one_batch=min_one)
        got = split_batches(read_info(info))
        if fetch == max_offset:
            assert got == []
            return
        eligible = [b for b in batches if b[1] >= fetch and b[0] < max_offset]
        # the answer is a prefix of the eligible batches ...
        assert got == eligible[:len(got)]
        if len(got) > 1 or not min_one:
            assert info.size <= max_bytes
        # ... and the longest one that fits (or the first batch alone, KIP-74)
        if len(got) < len(eligible):
            assert info.size + len(eligible[len(got)][2]) > max_bytes or not got and not min_one
        if eligible and min_one:
            assert got
        log.close()
