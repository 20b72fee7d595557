"""A Jepsen-style checker for Kafka queue histories (the ``queue`` workload of jepsen's
``tests/kafka.clj``, as used in its Redpanda and Bufstream analyses).

Pure: a history goes in (an iterable of event dicts, one JSON line each in ``make chaos``'s
output), a :class:`Report` comes out. No clock, no I/O, no Kafka.

**History.** Every event has ``type`` and ``process`` (a producer or consumer instance; a client
that is re-created gets a new process name). Values are unique strings, written once by one
producer.

``send``        ``value``, ``topic``, ``partition``; ``txn`` (an id) when sent in a transaction
``ack``         ``value``, ``topic``, ``partition``, ``offset``: the broker acknowledged it
``send_error``  ``value``, ``error``: the client gave up on it (indefinite: it may be written)
``txn``         ``txn``, ``outcome`` (``commit`` / ``abort`` / ``unknown``), ``values``:
                ``commit`` and ``abort`` mean commit_transaction / abort_transaction returned
                without error; anything else is ``unknown``
``session``     a consumer's (re)assignment: ``session`` (an id unique per process), ``mode``
                (``assign``, ``subscribe``, or ``final`` for the final full read),
                ``isolation`` (``read_committed`` / ``read_uncommitted``)
``poll``        ``session``, ``topic``, ``partition``, ``offset``, ``value``
``commit``      ``offsets``; informational (no check depends on it)
``fault``       nemesis events; counted by ``kind`` when ``phase`` is ``start``

**Checks** (jepsen's names; ``reliability-ecosystem.md`` A2). A value *should be visible* when
it was acknowledged and, if transactional, its transaction committed.

* ``lost``: should be visible, but the final full read (sessions of mode ``final``) did not
  return it.
* ``unseen``: should be visible, but no poll at all returned it. After a complete final read
  this equals ``lost`` (a value polled live but missing from the final read counts only as
  lost).
* ``duplicates``: one value at two or more offsets (acks and polls together).
* ``inconsistent_offsets``: one (topic, partition, offset) with two or more values.
* ``aborted_reads``: a ``read_committed`` session returned a value of a transaction that was
  aborted (G1a).
* ``nonmonotonic_poll``: within a session, a partition's offsets went backwards or repeated.
* ``poll_skip``: within a session, two successive polls of a partition jumped over an offset
  that holds a value a ``read_committed`` reader should see. Offsets of aborted records and
  transaction markers never count: they are not in that index.
* ``nonmonotonic_send``: one producer's acknowledged sends to a partition, in send order,
  landed at offsets that do not increase.

Every count is of distinct values (lost, unseen, duplicates, aborted_reads), distinct offsets
(inconsistent_offsets) or occurrences (the per-session and per-producer orders); each comes
with a few examples.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["Report", "check", "MUST_BE_ZERO", "format_report"]

# The rows that must be 0 with acks=all, min.insync.replicas=2, unclean election off and
# idempotent or transactional producers.
MUST_BE_ZERO = ("lost", "duplicates", "aborted_reads", "inconsistent_offsets",
                "nonmonotonic_poll", "nonmonotonic_send", "poll_skip", "unseen")
EXAMPLES = 5

Tp = tuple[str, int]


@attrs.define
class Report:
    faults: dict[str, int] = attrs.field(factory=dict)
    acked: int = 0
    lost: int = 0
    duplicates: int = 0
    aborted_reads: int = 0
    inconsistent_offsets: int = 0
    nonmonotonic_poll: int = 0
    nonmonotonic_send: int = 0
    poll_skip: int = 0
    unseen: int = 0
    # context: not anomalies
    sent: int = 0
    send_errors: dict[str, int] = attrs.field(factory=dict)
    transactions: dict[str, int] = attrs.field(factory=dict)
    polls: int = 0
    sessions: int = 0
    final_read: bool = False
    final_read_values: int = 0
    indeterminate: int = 0  # acked in a transaction of unknown outcome
    examples: dict[str, list] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return self.final_read and all(getattr(self, k) == 0 for k in MUST_BE_ZERO)

    def anomalies(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in MUST_BE_ZERO if getattr(self, k)}

    def to_json(self) -> dict:
        out = attrs.asdict(self)
        out["ok"] = self.ok
        out["fault_total"] = sum(self.faults.values())
        return out


def _example(report: Report, key: str, item) -> None:
    items = report.examples.setdefault(key, [])
    if len(items) < EXAMPLES:
        items.append(item)


def check(history: Iterable[Mapping]) -> Report:
    """Run every check over ``history`` (see the module docstring)."""
    r = Report()
    faults: Counter[str] = Counter()
    send_errors: Counter[str] = Counter()
    send_order: dict[str, int] = {}           # value -> position in its producer's sends
    producer_of: dict[str, str] = {}          # value -> process
    txn_of: dict[str, object] = {}            # value -> txn id
    acks: dict[str, tuple[Tp, int]] = {}      # value -> ((topic, partition), offset)
    outcomes: dict[tuple[str, object], str] = {}  # (process, txn) -> outcome
    sessions: dict[tuple[str, object], Mapping] = {}
    polls: list[tuple[tuple[str, object], Tp, int, str]] = []
    offset_values: dict[tuple[Tp, int], set[str]] = defaultdict(set)
    value_offsets: dict[str, set[tuple[Tp, int]]] = defaultdict(set)

    for e in history:
        kind = e.get("type")
        proc = e.get("process")
        if kind == "send":
            v = e["value"]
            r.sent += 1
            send_order[v] = r.sent
            producer_of[v] = proc
            if e.get("txn") is not None:
                txn_of[v] = e["txn"]
        elif kind == "ack":
            v, tp, off = e["value"], (e["topic"], e["partition"]), e["offset"]
            if off is None or off < 0:   # acknowledged without an offset (librdkafka may)
                acks.setdefault(v, (tp, -1))
                continue
            acks[v] = (tp, off)
            offset_values[(tp, off)].add(v)
            value_offsets[v].add((tp, off))
        elif kind == "send_error":
            send_errors[e.get("error", "?")] += 1
        elif kind == "txn":
            outcomes[(proc, e["txn"])] = e["outcome"]
        elif kind == "session":
            sessions[(proc, e["session"])] = e
        elif kind == "poll":
            v, tp, off = e["value"], (e["topic"], e["partition"]), e["offset"]
            polls.append(((proc, e["session"]), tp, off, v))
            offset_values[(tp, off)].add(v)
            value_offsets[v].add((tp, off))
        elif kind == "fault" and e.get("phase", "start") == "start":
            faults[e["kind"]] += 1

    r.faults = dict(sorted(faults.items()))
    r.send_errors = dict(sorted(send_errors.items()))
    r.transactions = dict(sorted(Counter(outcomes.values()).items()))
    r.polls = len(polls)
    r.sessions = len(sessions)

    def outcome(v: str) -> str | None:
        """None: not transactional; else the transaction's outcome."""
        if v not in txn_of:
            return None
        return outcomes.get((producer_of.get(v), txn_of[v]), "unknown")

    aborted = {v for v in txn_of if outcome(v) == "abort"}
    visible = {v for v in acks if outcome(v) in (None, "commit")}
    r.indeterminate = sum(1 for v in acks if outcome(v) == "unknown")
    r.acked = len(visible)

    # -- reads: what was seen, and by whom --------------------------------------------------
    seen: set[str] = set()
    final: set[str] = set()
    committed_readers = {k for k, s in sessions.items()
                         if s.get("isolation", "read_committed") == "read_committed"}
    aborted_seen: set[str] = set()
    for key, tp, off, v in polls:
        seen.add(v)
        if sessions.get(key, {}).get("mode") == "final":
            final.add(v)
        if key in committed_readers and v in aborted:
            aborted_seen.add(v)
    r.final_read = any(s.get("mode") == "final" for s in sessions.values())
    r.final_read_values = len(final)

    lost = sorted(visible - final, key=lambda v: acks[v])
    r.lost = len(lost)
    for v in lost:
        _example(r, "lost", {"value": v, "ack": _where(acks[v])})
    unseen = sorted(visible - seen, key=lambda v: acks[v])
    r.unseen = len(unseen)
    for v in unseen:
        _example(r, "unseen", {"value": v, "ack": _where(acks[v])})
    r.aborted_reads = len(aborted_seen)
    for v in sorted(aborted_seen):
        _example(r, "aborted_reads", {"value": v, "txn": txn_of[v]})

    # -- offsets and values -----------------------------------------------------------------
    for (tp, off), vs in sorted(offset_values.items()):
        if len(vs) > 1:
            r.inconsistent_offsets += 1
            _example(r, "inconsistent_offsets", {**_where((tp, off)), "values": sorted(vs)})
    for v, where in sorted(value_offsets.items()):
        if len(where) > 1:
            r.duplicates += 1
            _example(r, "duplicates", {"value": v, "at": [_where(w) for w in sorted(where)]})

    # -- order within a consumer session ----------------------------------------------------
    # The index of offsets a read_committed reader must not jump over: everything such a
    # reader returned, and every acknowledged value that should be visible.
    index: dict[Tp, set[int]] = defaultdict(set)
    for key, tp, off, _ in polls:
        if key in committed_readers:
            index[tp].add(off)
    for v in visible:
        tp, off = acks[v]
        if off >= 0:
            index[tp].add(off)
    ordered = {tp: sorted(offs) for tp, offs in index.items()}
    last: dict[tuple[tuple[str, object], Tp], int] = {}
    for key, tp, off, v in polls:
        prev = last.get((key, tp))
        last[(key, tp)] = off
        if prev is None:
            continue
        if off <= prev:
            r.nonmonotonic_poll += 1
            _example(r, "nonmonotonic_poll", {"session": list(key), "topic": tp[0],
                                              "partition": tp[1], "from": prev, "to": off})
            continue
        offs = ordered.get(tp, [])
        between = bisect.bisect_left(offs, off) - bisect.bisect_right(offs, prev)
        if between > 0:
            r.poll_skip += 1
            _example(r, "poll_skip", {"session": list(key), "topic": tp[0], "partition": tp[1],
                                      "from": prev, "to": off, "skipped": between})

    # -- order of one producer's sends ------------------------------------------------------
    by_producer: dict[tuple[str, Tp], list[tuple[int, int, str]]] = defaultdict(list)
    for v, (tp, off) in acks.items():
        if v in send_order and off >= 0:
            by_producer[(producer_of[v], tp)].append((send_order[v], off, v))
    for (proc, tp), sends in sorted(by_producer.items()):
        sends.sort()
        for (_, a, va), (_, b, vb) in zip(sends, sends[1:]):
            if b <= a:
                r.nonmonotonic_send += 1
                _example(r, "nonmonotonic_send", {"process": proc, "topic": tp[0],
                                                  "partition": tp[1], "values": [va, vb],
                                                  "offsets": [a, b]})
    return r


def _where(at: tuple[Tp, int]) -> dict:
    (topic, partition), offset = at
    return {"topic": topic, "partition": partition, "offset": offset}


def format_report(report: Report) -> str:
    """The one-screen summary ``make chaos`` prints."""
    lines = []
    total = sum(report.faults.values())
    kinds = ", ".join(f"{k} {n}" for k, n in report.faults.items()) or "none"
    lines.append(f"faults        {total} of {len(report.faults)} kinds: {kinds}")
    lines.append(f"sent          {report.sent}; acked (should be visible) {report.acked}; "
                 f"in transactions of unknown outcome {report.indeterminate}")
    if report.transactions:
        lines.append("transactions  " + ", ".join(f"{k} {n}"
                                                  for k, n in report.transactions.items()))
    if report.send_errors:
        lines.append("send errors   " + ", ".join(f"{k} {n}"
                                                  for k, n in report.send_errors.items()))
    lines.append(f"reads         {report.polls} polls in {report.sessions} sessions; final read "
                 + (f"returned {report.final_read_values} values" if report.final_read
                    else "MISSING"))
    lines.append("")
    for key in MUST_BE_ZERO:
        n = getattr(report, key)
        lines.append(f"  {key:<22}{n:>8}   {'ok' if n == 0 else 'ANOMALY'}")
    lines.append("")
    for key, items in report.examples.items():
        for item in items[:2]:
            lines.append(f"  e.g. {key}: {item}")
    lines.append("VALID" if report.ok else "INVALID: " + ", ".join(
        f"{k}={n}" for k, n in report.anomalies().items()) + (
        "" if report.final_read else " (no final read)"))
    return "\n".join(lines)
