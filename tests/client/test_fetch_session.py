"""FetchSessionHandler against a small model of the broker's session cache (KIP-227)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.client.fetch_session import (
    FINAL_EPOCH, INITIAL_EPOCH, FetchSessionHandler, PartitionState, next_epoch)
from kafkalite.model import TopicPartition

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
NOT_FOUND, INVALID_EPOCH = 70, 71


def ps(offset: int, max_bytes: int = 100, log_start: int = 0, epoch: int = 3) -> PartitionState:
    return PartitionState(offset, max_bytes, log_start, epoch)


class ModelBroker:
    """The broker side as the KIP describes it, reduced to what the client can observe."""

    def __init__(self, admit: bool = True):
        self.admit = admit
        self.sessions: dict[int, tuple[int, dict]] = {}   # id -> (expected epoch, partitions)
        self.next_id = 1

    def fetch(self, req) -> tuple[int, int, set]:
        """(error code, session id, the partitions it would answer with)."""
        if req.session_epoch == FINAL_EPOCH:   # closes the session it names, sessionless
            self.sessions.pop(req.session_id, None)
            return 0, 0, set(req.to_send)
        if req.session_epoch == INITIAL_EPOCH:
            self.sessions.pop(req.session_id, None)   # a full fetch closes the session it names
            if not self.admit:
                return 0, 0, set(req.to_send)
            sid, self.next_id = self.next_id, self.next_id + 1
            self.sessions[sid] = (1, dict(req.to_send))
            return 0, sid, set(req.to_send)
        if req.session_id not in self.sessions:
            return NOT_FOUND, 0, set()
        epoch, parts = self.sessions[req.session_id]
        if req.session_epoch != epoch:
            return INVALID_EPOCH, 0, set()
        for tp in req.forgotten:
            parts.pop(tp, None)
        parts.update(req.to_send)
        self.sessions[req.session_id] = (next_epoch(epoch), parts)
        return 0, req.session_id, set(req.to_send)   # "changed" partitions: those it was told

    def view(self, session_id: int) -> dict:
        return self.sessions[session_id][1]


def test_full_then_incremental_sends_only_changes():
    h, broker = FetchSessionHandler(1), ModelBroker()
    req = h.build({A0: ps(0), A1: ps(5)})
    assert (req.session_id, req.session_epoch, req.is_full) == (0, INITIAL_EPOCH, True)
    assert h.handle_response(req, *broker.fetch(req))
    assert (h.session_id, h.epoch) == (1, 1)

    req = h.build({A0: ps(10), A1: ps(5), B0: ps(0)})
    assert (req.session_id, req.session_epoch) == (1, 1)
    assert list(req.to_send) == [A0, B0] and req.forgotten == ()
    assert h.handle_response(req, *broker.fetch(req))

    req = h.build({A0: ps(10), B0: ps(0, log_start=4)})
    assert list(req.to_send) == [B0] and req.forgotten == (A1,)
    assert [(t.topic, list(t.partitions)) for t in req.forgotten_topics_data()] == [("a", [1])]
    assert [p.log_start_offset for t in req.topics() for p in t.partitions] == [4]
    assert h.handle_response(req, *broker.fetch(req))
    assert broker.view(1) == {A0: ps(10), B0: ps(0, log_start=4)}
    assert h.epoch == 3

    req = h.build({A0: ps(10), B0: ps(0, log_start=4)})
    assert req.to_send == {} and req.forgotten == () and req.session_epoch == 3


def test_leader_epoch_and_max_bytes_changes_are_sent():
    h, broker = FetchSessionHandler(), ModelBroker()
    req = h.build({A0: ps(0)})
    h.handle_response(req, *broker.fetch(req))
    assert list(h.build({A0: ps(0, epoch=4)}).to_send) == [A0]
    h.handle_error()
    req = h.build({A0: ps(0, epoch=4)})
    h.handle_response(req, *broker.fetch(req))
    assert list(h.build({A0: ps(0, epoch=4, max_bytes=7)}).to_send) == [A0]


def test_session_errors_start_over_with_a_full_fetch():
    # the session is gone: a plain full fetch; a wrong epoch: a full fetch closing it
    for code, next_id in ((NOT_FOUND, 0), (INVALID_EPOCH, 9)):
        h = FetchSessionHandler()
        req = h.build({A0: ps(0)})
        assert h.handle_response(req, 0, 9, [A0])
        req = h.build({A0: ps(1)})
        assert not h.handle_response(req, code, 0, [])
        req = h.build({A0: ps(1), A1: ps(0)})
        assert (req.session_id, req.session_epoch, set(req.to_send)) == (next_id, 0, {A0, A1})
        assert req.is_full
        assert h.handle_response(req, 0, 10, [A0, A1])
        assert (h.session_id, h.epoch) == (10, 1)


def test_a_lost_connection_closes_the_old_session_with_the_next_full_fetch():
    h, broker = FetchSessionHandler(), ModelBroker()
    req = h.build({A0: ps(0)})
    h.handle_response(req, *broker.fetch(req))
    req = h.build({A0: ps(1)})
    broker.fetch(req)            # served, but the answer is lost with the connection
    h.handle_error()
    req = h.build({A0: ps(1)})
    assert (req.session_id, req.session_epoch, req.is_full) == (1, 0, True)
    assert h.handle_response(req, *broker.fetch(req))
    assert list(broker.sessions) == [2]   # the old session is closed, not left to be evicted


def test_broker_without_sessions_gets_full_fetches_every_time():
    h, broker = FetchSessionHandler(), ModelBroker(admit=False)
    for offset in range(3):
        req = h.build({A0: ps(offset), A1: ps(0)})
        assert (req.session_id, req.session_epoch, set(req.to_send)) == (0, 0, {A0, A1})
        assert h.handle_response(req, *broker.fetch(req))


def test_disabled_handler_sends_sessionless_full_fetches():
    h = FetchSessionHandler(enabled=False)
    req = h.build({A0: ps(0)})
    assert (req.session_id, req.session_epoch, req.is_full) == (0, FINAL_EPOCH, True)
    assert h.handle_response(req, 0, 0, [A0])
    assert not h.handle_response(req, 70, 0, [])


def test_incremental_response_naming_a_stranger_is_dropped():
    h = FetchSessionHandler()
    req = h.build({A0: ps(0), A1: ps(0)})
    assert h.handle_response(req, 0, 5, [A0, A1])
    req = h.build({A0: ps(3)})            # A1 forgotten
    assert h.handle_response(req, 0, 5, [])   # nothing changed is fine
    req = h.build({A0: ps(3)})
    assert not h.handle_response(req, 0, 5, [A1])
    assert (h.session_id, h.epoch) == (5, 0)


def test_full_response_naming_a_stranger_is_dropped_but_omissions_are_fine():
    h = FetchSessionHandler()
    req = h.build({A0: ps(0)})
    assert not h.handle_response(req, 0, 5, [A0, B0])
    req = h.build({A0: ps(0), A1: ps(0)})
    assert h.handle_response(req, 0, 5, [A0])
    assert h.build({A0: ps(0), A1: ps(0)}).to_send == {}


def test_incremental_answer_from_another_session_is_dropped():
    h = FetchSessionHandler()
    req = h.build({A0: ps(0)})
    h.handle_response(req, 0, 5, [A0])
    req = h.build({A0: ps(1)})
    assert not h.handle_response(req, 0, 6, [A0])


def test_session_closed_by_broker_goes_back_to_full():
    h = FetchSessionHandler()
    req = h.build({A0: ps(0)})
    h.handle_response(req, 0, 5, [A0])
    req = h.build({A0: ps(1)})
    assert h.handle_response(req, 0, 0, [A0])
    assert h.build({A0: ps(2)}).is_full


def test_epoch_wraps_to_one():
    assert next_epoch(0) == 1
    assert next_epoch(2**31 - 2) == 2**31 - 1
    assert next_epoch(2**31 - 1) == 1
    h = FetchSessionHandler()
    req = h.build({A0: ps(0)})
    h.handle_response(req, 0, 5, [A0])
    h.epoch = 2**31 - 1
    req = h.build({A0: ps(0)})
    assert req.session_epoch == 2**31 - 1
    h.handle_response(req, 0, 5, [])
    assert h.epoch == 1


TPS = [TopicPartition(t, p) for t in "ab" for p in range(3)]
wanted_sets = st.dictionaries(st.sampled_from(TPS), st.builds(
    PartitionState, st.integers(0, 3), st.sampled_from([10, 20]), st.integers(0, 2),
    st.integers(0, 2)), max_size=len(TPS))
# what happens to one request: answered, lost before the broker saw it, served but its answer
# lost with the connection, or the broker forgot the session (restart, eviction) before it
outcomes = st.sampled_from(["ok", "ok", "ok", "lost", "answer_lost", "evicted"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(wanted_sets, outcomes), max_size=25), st.booleans())
def test_broker_session_always_matches_what_the_client_wants(rounds, admit):
    """Whatever the sequence of wanted sets, lost requests and answers and evictions: every
    answered request leaves the broker's session holding exactly the partitions (and states)
    the client wanted, epochs go 1, 2, 3... within a session, and the broker holds no other
    session than the client's, except one per full fetch whose answer was lost."""
    h, broker = FetchSessionHandler(), ModelBroker(admit)
    orphans = 0
    for wanted, outcome in rounds:
        req = h.build(wanted)
        if outcome in ("lost", "answer_lost"):
            if outcome == "answer_lost":
                broker.fetch(req)
                orphans += req.is_full
            h.handle_error()
            continue
        if outcome == "evicted":
            broker.sessions.clear()
            orphans = 0
        code, sid, names = broker.fetch(req)
        ok = h.handle_response(req, code, sid, names)
        assert len(broker.sessions) <= 1 + orphans
        if code:
            assert not ok and h.epoch == 0 and h.build(wanted).is_full
            continue
        assert ok
        if sid:
            assert broker.view(sid) == wanted
            assert h.session_id == sid and broker.sessions[sid][0] == h.epoch
            assert h.session_partitions == wanted
        else:
            assert not admit and h.build(wanted).to_send == wanted
            h.handle_error()
        if req.is_full:
            assert req.to_send == wanted
        else:
            assert set(req.to_send) <= set(wanted) and not set(req.forgotten) & set(wanted)


def test_close_request_closes_the_session_and_starts_over():
    h, broker = FetchSessionHandler(1), ModelBroker()
    assert h.close_request() is None                   # no session yet: nothing to close
    req = h.build({A0: ps(0)})
    assert h.handle_response(req, *broker.fetch(req)) and broker.sessions
    close = h.close_request()
    assert (close.session_id, close.session_epoch, dict(close.to_send)) == (1, FINAL_EPOCH, {})
    broker.fetch(close)
    assert not broker.sessions and (h.session_id, h.epoch) == (0, INITIAL_EPOCH)
    assert h.close_request() is None
    req = h.build({A0: ps(3)})                         # used again: a new full fetch
    assert (req.session_id, req.session_epoch, set(req.to_send)) == (0, INITIAL_EPOCH, {A0})
    disabled = FetchSessionHandler(1, enabled=False)
    assert disabled.close_request() is None
