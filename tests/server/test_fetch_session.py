"""The fetch session cache (KIP-227) without a broker: contexts, epochs, what an incremental
response carries, and Kafka's eviction rules."""

from __future__ import annotations

import random

import attrs
from hypothesis import given, settings, strategies as st

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.server.fetch_session import (
    EVICTION_MS, ContextKind, FetchSessionCache, next_epoch)

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


@attrs.frozen
class Result:
    """What the handler's FetchResult offers select_changed."""

    error: type[errors.KafkaError] | None = None
    high_watermark: int = 0
    last_stable_offset: int = 0
    log_start_offset: int = 0
    size: int = 0


def make_cache(slots: int = 10, seed: int = 1) -> FetchSessionCache:
    return FetchSessionCache(slots, random.Random(seed).randint)


def create(cache, tps, *, now=0, privileged=False, result=Result()) -> int:
    """A full fetch (epoch 0) of ``tps``, each answered with ``result``; the new session id."""
    context = cache.new_context(0, 0, [], [], now_ms=now)
    assert context.kind is ContextKind.FULL
    return cache.maybe_create_session(
        now, privileged, len(tps),
        lambda: {tp: [f"req-{tp}", result.high_watermark, result.last_stable_offset,
                      result.log_start_offset] for tp in tps})


def test_next_epoch_wraps_past_int32_max_to_one():
    assert next_epoch(0) == 1 and next_epoch(41) == 42
    assert next_epoch(2**31 - 1) == 1
    assert next_epoch(-1) == -1


def test_sessionless_and_full_contexts():
    cache = make_cache()
    assert cache.new_context(0, -1, [], [], now_ms=0).kind is ContextKind.SESSIONLESS
    assert len(cache) == 0
    sid = create(cache, [A0, A1])
    assert sid > 0 and len(cache) == 1 and cache.num_partitions == 2
    session = cache.get(sid)
    assert session.epoch == 1 and session.requests() == ("req-a-0", "req-a-1")


def test_epoch_minus_one_closes_and_epoch_zero_replaces():
    cache = make_cache()
    sid = create(cache, [A0])
    assert cache.new_context(sid, -1, [], [], now_ms=1).kind is ContextKind.SESSIONLESS
    assert cache.get(sid) is None and len(cache) == 0 and cache.num_partitions == 0
    sid = create(cache, [A0])
    assert cache.new_context(sid, 0, [], [], now_ms=1).kind is ContextKind.FULL
    assert cache.get(sid) is None and cache.num_partitions == 0


def test_incremental_errors_leave_the_session_alone():
    cache = make_cache()
    sid = create(cache, [A0])
    missing = cache.new_context(sid + 1, 1, [(B0, "x")], [], now_ms=1)
    assert (missing.kind, missing.error) == (ContextKind.SESSION_ERROR,
                                             errors.FetchSessionIdNotFound)
    for wrong in (2, 7, 2**31 - 1):
        bad = cache.new_context(sid, wrong, [(B0, "x")], [A0], now_ms=1)
        assert (bad.kind, bad.error) == (ContextKind.SESSION_ERROR,
                                         errors.InvalidFetchSessionEpoch)
    session = cache.get(sid)
    assert session.epoch == 1 and list(session.partitions) == [A0]


def test_incremental_updates_adds_forgets_and_advances_the_epoch():
    cache = make_cache()
    sid = create(cache, [A0, A1])
    session = cache.get(sid)
    quiet = session.requests()
    context = cache.new_context(sid, 1, [], [], now_ms=1)
    assert context.kind is ContextKind.INCREMENTAL and context.session is session
    assert session.epoch == context.next_epoch == 2
    assert session.requests() is quiet  # nothing changed: the same tuple
    context = cache.new_context(sid, 2, [(A1, "new-a1"), (B0, "new-b0")], [A0], now_ms=2)
    assert session.requests() == ("new-a1", "new-b0") and session.epoch == 3
    assert cache.num_partitions == 2
    # A forgotten partition the session never had changes nothing.
    cache.new_context(sid, 3, [], [TopicPartition("zz", 9)], now_ms=3)
    assert session.epoch == 4 and cache.num_partitions == 2
    # Forgetting every partition closes the session: served sessionless.
    context = cache.new_context(sid, 4, [], [A1, B0], now_ms=4)
    assert context.kind is ContextKind.SESSIONLESS and cache.get(sid) is None
    assert cache.num_partitions == 0


def test_epoch_wraps_inside_a_session():
    cache = make_cache()
    sid = create(cache, [A0])
    cache.get(sid).epoch = 2**31 - 1
    assert cache.new_context(sid, 2**31 - 1, [], [], now_ms=1).next_epoch == 1
    assert cache.new_context(sid, 1, [], [], now_ms=2).kind is ContextKind.INCREMENTAL


def test_select_changed_follows_kafka():
    cache = make_cache()
    same = Result(high_watermark=5, last_stable_offset=5, log_start_offset=0)
    sid = create(cache, [A0, A1, B0], result=same)
    session = cache.get(sid)
    assert session.select_changed({A0: same, A1: same, B0: same}) == []
    changes = {
        "records": attrs.evolve(same, size=10),
        "hw": attrs.evolve(same, high_watermark=6),
        "lso": attrs.evolve(same, last_stable_offset=4),
        "start": attrs.evolve(same, log_start_offset=1),
        "error": Result(errors.NotLeaderOrFollower, -1, -1, -1),
    }
    for what, changed in changes.items():
        sid = create(cache, [A0, A1, B0], result=same)
        session = cache.get(sid)
        got = session.select_changed({A0: same, A1: changed, B0: same})
        assert got == [(A1, changed)], what
        moved = [A0, B0, A1] if what == "records" else [A0, A1, B0]
        assert list(session.partitions) == moved, what
        # Remembered: the same answer again is not sent again, except records and errors.
        again = session.select_changed({A0: same, A1: changed, B0: same})
        assert (again != []) == (what in ("records", "error")), what
    # After an error clears, the partition is sent even though its offsets did not change.
    sid = create(cache, [A0], result=same)
    session = cache.get(sid)
    session.select_changed({A0: attrs.evolve(same, error=errors.NotLeaderOrFollower)})
    assert session.select_changed({A0: same}) == [(A0, same)]


def test_requests_follow_the_reordered_session():
    cache = make_cache()
    sid = create(cache, [A0, A1, B0])
    session = cache.get(sid)
    session.select_changed({A0: Result(size=1), A1: Result(), B0: Result()})
    assert session.requests() == ("req-a-1", "req-b-0", "req-a-0")


def test_a_full_cache_admits_nobody_equal_or_smaller():
    cache = make_cache(slots=1)
    first = create(cache, [A0, A1])
    assert create(cache, [A0, A1], now=1) == 0   # same size, both unprivileged, recent
    assert create(cache, [A0], now=1, privileged=False) == 0
    assert cache.get(first) is not None and cache.evictions == 0


def test_privileged_newcomer_evicts_the_smallest_unprivileged():
    cache = make_cache(slots=2)
    small = create(cache, [A0])
    big = create(cache, [A0, A1, B0])
    follower = create(cache, [A0], now=1, privileged=True)
    assert follower and cache.get(small) is None and cache.get(big) is not None
    assert cache.evictions == 1 and cache.num_partitions == 4
    # A follower never evicts another young follower, nor an unprivileged one evict it.
    assert create(cache, [A0, A1, B0], now=2, privileged=False) == 0
    other = create(cache, [A0, A1, B0, TopicPartition("c", 0)], now=2, privileged=True)
    assert other and cache.get(big) is None and cache.get(follower) is not None


def test_unprivileged_newcomer_evicts_only_old_sessions_it_outgrows():
    cache = make_cache(slots=1)
    old = create(cache, [A0], now=0)
    # Used recently (not stale) but created more than eviction_ms ago.
    cache.new_context(old, 1, [], [], now_ms=EVICTION_MS + 1)
    assert create(cache, [A1], now=EVICTION_MS + 2) == 0            # not bigger
    newer = create(cache, [A0, A1], now=EVICTION_MS + 2)
    assert newer and cache.get(old) is None and cache.evictions == 1


def test_stale_sessions_are_evicted_first():
    cache = make_cache(slots=2)
    stale = create(cache, [A0, A1, B0], now=0, privileged=True)
    fresh = create(cache, [A0], now=EVICTION_MS)
    newcomer = create(cache, [A0], now=EVICTION_MS + 1)
    assert newcomer and cache.get(stale) is None and cache.get(fresh) is not None
    assert cache.evictions == 1 and cache.num_partitions == 2


def test_zero_slots_never_creates_a_session():
    cache = make_cache(slots=0)
    assert create(cache, [A0], privileged=True) == 0 and len(cache) == 0


# -- properties ----------------------------------------------------------------------------

TPS = [TopicPartition(t, p) for t in "xy" for p in range(3)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TPS) - 1), st.sampled_from(
    ["hw", "lso", "start", "error", "records", "heal", "quiet"])), min_size=1, max_size=40))
def test_an_incremental_client_sees_what_a_full_fetch_would(steps):
    """KIP-227's promise: a fetcher that applies each incremental response to its view of
    the partitions knows every partition's high watermark, LSO and log start offset."""
    cache = make_cache()
    truth = {tp: Result(high_watermark=3, last_stable_offset=3) for tp in TPS}
    sid = create(cache, TPS, result=truth[TPS[0]])
    session = cache.get(sid)
    view = {tp: (r.high_watermark, r.last_stable_offset, r.log_start_offset)
            for tp, r in truth.items()}
    epoch = 1
    for i, what in steps:
        tp = TPS[i]
        r = truth[tp]
        if what in ("hw", "lso", "start"):
            field = {"hw": "high_watermark", "lso": "last_stable_offset",
                     "start": "log_start_offset"}[what]
            r = attrs.evolve(r, **{field: getattr(r, field) + 1})
        elif what == "error":
            r = attrs.evolve(r, error=errors.NotLeaderOrFollower)
        elif what == "heal":
            r = attrs.evolve(r, error=None)
        r = attrs.evolve(r, size=5 if what == "records" else 0)
        truth[tp] = r
        context = cache.new_context(sid, epoch, [], [], now_ms=epoch)
        assert context.kind is ContextKind.INCREMENTAL
        epoch = context.next_epoch
        sent = session.select_changed(dict(truth))
        for t, got in sent:
            view[t] = (got.high_watermark, got.last_stable_offset, got.log_start_offset)
        for t, now in truth.items():
            if now.error is None:
                assert view[t] == (now.high_watermark, now.last_stable_offset,
                                   now.log_start_offset)
            else:
                assert t in dict(sent)   # errors are always answered
        assert sorted(session.partitions) == sorted(TPS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["create", "close", "incremental", "forget"]),
                          st.integers(1, 4), st.booleans(), st.integers(0, 200_000)),
                max_size=60), st.integers(0, 3))
def test_cache_bookkeeping_stays_consistent(ops, slots):
    cache = make_cache(slots=slots)
    now = 0
    live: list[int] = []
    for op, size, privileged, dt in ops:
        now += dt
        tps = TPS[:size]
        if op == "create":
            sid = create(cache, tps, now=now, privileged=privileged)
            if sid:
                live.append(sid)
        elif live:
            sid = live[size % len(live)]
            session = cache.get(sid)
            if op == "close":
                cache.new_context(sid, -1, [], [], now_ms=now)
            elif session is not None:
                forget = tps[:1] if op == "forget" else []
                cache.new_context(sid, session.epoch, [], forget, now_ms=now)
        live = [s for s in live if cache.get(s) is not None]
        assert len(cache) <= slots
        assert cache.num_partitions == sum(len(cache.get(s).partitions) for s in live)
        assert len(cache) == len(live) and 0 not in live
