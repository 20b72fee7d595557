"""The Jepsen-style queue checker on synthetic histories: a clean one is valid, and each anomaly
is found (and only that one)."""

from __future__ import annotations

import pytest

from kafkalite.testing.checker import MUST_BE_ZERO, check, format_report

T = "t"


def send(proc, value, partition=0, txn=None):
    return {"type": "send", "process": proc, "value": value, "topic": T,
            "partition": partition, "txn": txn}


def ack(proc, value, offset, partition=0):
    return {"type": "ack", "process": proc, "value": value, "topic": T,
            "partition": partition, "offset": offset}


def session(proc, sid, mode="assign", isolation="read_committed"):
    return {"type": "session", "process": proc, "session": sid, "mode": mode,
            "isolation": isolation}


def poll(proc, sid, offset, value, partition=0):
    return {"type": "poll", "process": proc, "session": sid, "topic": T,
            "partition": partition, "offset": offset, "value": value}


def txn(proc, tid, outcome, values):
    return {"type": "txn", "process": proc, "txn": tid, "outcome": outcome, "values": values}


def final_read(entries):
    """A final full read returning (offset, value) of partition 0."""
    return [session("final", 0, mode="final")] + [poll("final", 0, o, v) for o, v in entries]


def produced(proc, values, start=0):
    out = []
    for i, v in enumerate(values):
        out += [send(proc, v), ack(proc, v, start + i)]
    return out


def anomalies(history):
    return check(history).anomalies()


def base():
    """p0 writes a0..a3 at offsets 0..3; a consumer and the final read see them all."""
    values = ["a0", "a1", "a2", "a3"]
    h = produced("p0", values)
    h += [session("c0", 1)] + [poll("c0", 1, o, v) for o, v in enumerate(values)]
    h += final_read(list(enumerate(values)))
    return h


def test_a_clean_history_is_valid():
    h = base() + [{"type": "fault", "kind": "kill-leader", "phase": "start"},
                  {"type": "fault", "kind": "kill-leader", "phase": "end"},
                  {"type": "fault", "kind": "pause-leader", "phase": "start"}]
    r = check(h)
    assert r.ok, r
    assert r.acked == 4 and r.final_read_values == 4
    assert r.faults == {"kill-leader": 1, "pause-leader": 1}
    assert all(getattr(r, k) == 0 for k in MUST_BE_ZERO)
    assert "VALID" in format_report(r)


def test_without_a_final_read_the_history_is_not_valid():
    h = [e for e in base() if e["process"] != "final"]
    r = check(h)
    assert not r.ok and not r.final_read
    assert r.lost == 4  # nothing came back from a final read
    assert "no final read" in format_report(r)


def test_lost_an_acknowledged_value_missing_from_the_final_read():
    h = produced("p0", ["a0", "a1", "a2"])
    h += final_read([(0, "a0"), (2, "a2")])
    r = check(h)
    # the final read also jumped over an acknowledged offset
    assert r.anomalies() == {"lost": 1, "unseen": 1, "poll_skip": 1}
    assert r.examples["lost"][0]["value"] == "a1"


def test_a_value_polled_live_but_gone_from_the_final_read_is_lost_not_unseen():
    h = produced("p0", ["a0", "a1"])
    h += [session("c0", 1), poll("c0", 1, 0, "a0"), poll("c0", 1, 1, "a1")]
    h += final_read([(0, "a0")])
    assert anomalies(h) == {"lost": 1}


def test_unacknowledged_and_failed_sends_are_never_lost():
    h = [send("p0", "a0"), {"type": "send_error", "process": "p0", "value": "a0",
                            "error": "_MSG_TIMED_OUT"}]
    h += final_read([])
    r = check(h)
    assert r.ok and r.send_errors == {"_MSG_TIMED_OUT": 1}


def test_duplicates_one_value_at_two_offsets():
    h = produced("p0", ["a0", "a1"])
    h += final_read([(0, "a0"), (1, "a1"), (2, "a1")])
    r = check(h)
    assert r.anomalies() == {"duplicates": 1}
    assert r.examples["duplicates"][0]["value"] == "a1"


def test_duplicates_also_when_the_ack_names_another_offset_than_the_reads():
    h = produced("p0", ["a0"], start=5)
    h += final_read([(7, "a0")])
    assert anomalies(h) == {"duplicates": 1}


def test_inconsistent_offsets_one_offset_two_values():
    h = produced("p0", ["a0", "a1"])
    h += [session("c0", 1), poll("c0", 1, 0, "a0"), poll("c0", 1, 1, "zz")]
    h += final_read([(0, "a0"), (1, "a1")])
    r = check(h)
    # offset 1 held a1 (ack, final read) and zz (a live poll)
    assert r.anomalies() == {"inconsistent_offsets": 1}
    assert r.examples["inconsistent_offsets"][0]["values"] == ["a1", "zz"]


def test_aborted_read_a_read_committed_consumer_saw_an_aborted_transaction():
    h = [send("tx", "t0", txn=1), ack("tx", "t0", 0), txn("tx", 1, "abort", ["t0"])]
    h += [send("tx", "t1", txn=2), ack("tx", "t1", 2), txn("tx", 2, "commit", ["t1"])]
    h += [session("c0", 1), poll("c0", 1, 0, "t0"), poll("c0", 1, 2, "t1")]
    h += final_read([(2, "t1")])
    r = check(h)
    assert r.anomalies() == {"aborted_reads": 1}
    assert r.transactions == {"abort": 1, "commit": 1}
    assert r.acked == 1  # the aborted value is not expected anywhere


def test_a_read_uncommitted_consumer_may_see_aborted_values():
    h = [send("tx", "t0", txn=1), ack("tx", "t0", 0), txn("tx", 1, "abort", ["t0"])]
    h += [session("c0", 1, isolation="read_uncommitted"), poll("c0", 1, 0, "t0")]
    h += final_read([])
    assert anomalies(h) == {}


def test_an_aborted_value_in_the_final_read_is_an_aborted_read():
    h = [send("tx", "t0", txn=1), ack("tx", "t0", 0), txn("tx", 1, "abort", ["t0"])]
    h += final_read([(0, "t0")])
    assert anomalies(h) == {"aborted_reads": 1}


def test_a_committed_transaction_missing_is_lost_an_unknown_one_is_not():
    h = [send("tx", "t0", txn=1), ack("tx", "t0", 0), txn("tx", 1, "commit", ["t0"])]
    h += [send("tx", "t1", txn=2), ack("tx", "t1", 2), txn("tx", 2, "unknown", ["t1"])]
    h += final_read([])
    r = check(h)
    assert r.anomalies() == {"lost": 1, "unseen": 1}
    assert r.examples["lost"][0]["value"] == "t0" and r.indeterminate == 1


def test_transaction_markers_and_aborted_records_are_no_poll_skip():
    # offsets: 0 a0, 1 aborted t0, 2 abort marker, 3 a1, 4 commit marker (none of 1, 2, 4 is
    # returned to a read_committed reader)
    h = [send("p0", "a0"), ack("p0", "a0", 0)]
    h += [send("tx", "t0", txn=1), ack("tx", "t0", 1), txn("tx", 1, "abort", ["t0"])]
    h += [send("p0", "a1"), ack("p0", "a1", 3)]
    h += [session("c0", 1), poll("c0", 1, 0, "a0"), poll("c0", 1, 3, "a1")]
    h += final_read([(0, "a0"), (3, "a1")])
    assert anomalies(h) == {}


def test_poll_skip_a_consumer_jumped_over_a_visible_offset():
    h = base()
    h += [session("c1", 7), poll("c1", 7, 0, "a0"), poll("c1", 7, 3, "a3")]
    r = check(h)
    assert r.anomalies() == {"poll_skip": 1}
    assert r.examples["poll_skip"][0]["skipped"] == 2


def test_a_new_session_may_start_anywhere():
    h = base()
    h += [session("c1", 7), poll("c1", 7, 0, "a0"), session("c1", 8), poll("c1", 8, 3, "a3"),
          session("c1", 9), poll("c1", 9, 1, "a1")]
    assert anomalies(h) == {}


def test_nonmonotonic_poll_a_consumer_went_backwards_or_repeated():
    h = base()
    h += [session("c1", 7), poll("c1", 7, 1, "a1"), poll("c1", 7, 2, "a2"),
          poll("c1", 7, 1, "a1"), poll("c1", 7, 2, "a2"), poll("c1", 7, 2, "a2")]
    r = check(h)
    assert r.anomalies() == {"nonmonotonic_poll": 2}


def test_partitions_are_checked_separately():
    h = produced("p0", ["a0", "a1"])
    h += [send("p0", "b0", 1), ack("p0", "b0", 0, 1)]
    h += [session("c0", 1), poll("c0", 1, 0, "a0"), poll("c0", 1, 0, "b0", partition=1),
          poll("c0", 1, 1, "a1")]
    h += final_read([(0, "a0"), (1, "a1")]) + [poll("final", 0, 0, "b0", partition=1)]
    assert anomalies(h) == {}


def test_nonmonotonic_send_a_later_send_landed_lower():
    h = [send("p0", "a0"), send("p0", "a1"), send("p0", "a2"),
         ack("p0", "a1", 0), ack("p0", "a0", 1), ack("p0", "a2", 2)]
    h += final_read([(0, "a1"), (1, "a0"), (2, "a2")])
    r = check(h)
    assert r.anomalies() == {"nonmonotonic_send": 1}
    assert r.examples["nonmonotonic_send"][0]["values"] == ["a0", "a1"]


def test_different_producers_may_interleave():
    h = [send("p0", "a0"), send("p1", "b0"), ack("p1", "b0", 0), ack("p0", "a0", 1)]
    h += final_read([(0, "b0"), (1, "a0")])
    assert anomalies(h) == {}


@pytest.mark.parametrize("key", MUST_BE_ZERO)
def test_report_json_has_every_row(key):
    out = check(base()).to_json()
    assert out[key] == 0 and out["ok"] is True and "faults" in out and "acked" in out


def test_an_ack_without_an_offset_still_counts_as_acknowledged():
    h = [send("p0", "a0"), ack("p0", "a0", -1), send("p0", "a1"), ack("p0", "a1", 1)]
    h += final_read([(1, "a1")])
    r = check(h)
    assert r.acked == 2 and r.anomalies() == {"lost": 1, "unseen": 1}
