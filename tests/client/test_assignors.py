"""Assignors and the ConsumerProtocol formats: Kafka's examples, properties, byte round trips.

The byte formats are checked against kafka-python 3.x's own ConsumerProtocol classes
(generated from Kafka's JSON specs), so a group mixing kafkalite and other clients agrees on
every subscription and assignment.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kafkalite.model import TopicPartition as TP
from kafkalite.client.assignors import (
    Assignment,
    CooperativeStickyAssignor,
    MemberSubscription,
    RangeAssignor,
    RoundRobinAssignor,
    StickyAssignor,
    StickyMember,
    Subscription,
    assignor_for,
    decode_sticky_user_data,
    encode_sticky_user_data,
    range_assign,
    roundrobin_assign,
    sticky_assign,
)


def tps(*pairs):
    return [TP(t, p) for t, p in pairs]


# --- Kafka's documented examples -----------------------------------------------------------


def test_range_matches_kafkas_javadoc_example():
    # RangeAssignor javadoc: C0, C1 on t0, t1 with 3 partitions each
    out = range_assign({"t0": 3, "t1": 3}, {"C0": ["t0", "t1"], "C1": ["t0", "t1"]})
    assert out == {"C0": tps(("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)),
                   "C1": tps(("t0", 2), ("t1", 2))}


def test_roundrobin_matches_kafkas_javadoc_examples():
    same = roundrobin_assign({"t0": 3, "t1": 3}, {"C0": ["t0", "t1"], "C1": ["t0", "t1"]})
    assert same == {"C0": tps(("t0", 0), ("t0", 2), ("t1", 1)),
                    "C1": tps(("t0", 1), ("t1", 0), ("t1", 2))}
    # C0 on t0; C1 on t0, t1; C2 on t0, t1, t2 (1, 2 and 3 partitions)
    mixed = roundrobin_assign({"t0": 1, "t1": 2, "t2": 3},
                              {"C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]})
    assert mixed == {"C0": tps(("t0", 0)), "C1": tps(("t1", 0)),
                     "C2": tps(("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2))}


def test_static_members_sort_by_instance_id_first():
    out = range_assign({"t": 2}, {"a": ["t"], "b": ["t"]}, {"b": "instance-1", "a": None})
    assert out == {"b": tps(("t", 0)), "a": tps(("t", 1))}


def test_sticky_matches_kafkas_javadoc_example():
    # StickyAssignor javadoc: C0..C2 on t0..t3 (2 partitions each); C1 leaves
    topics = ("t0", "t1", "t2", "t3")
    counts = {t: 2 for t in topics}
    first = sticky_assign(counts, {c: StickyMember(topics=topics) for c in ("C0", "C1", "C2")})
    assert sorted(len(v) for v in first.values()) == [2, 3, 3]
    second = sticky_assign(counts, {
        c: StickyMember(topics=topics, owned=tuple(first[c]), generation=1)
        for c in ("C0", "C2")})
    for c in ("C0", "C2"):
        assert set(first[c]) <= set(second[c])
    assert sorted(len(v) for v in second.values()) == [4, 4]


def test_assignor_names_and_java_class_names():
    assert assignor_for("range").name == "range"
    assert assignor_for("org.apache.kafka.clients.consumer.RoundRobinAssignor").name == \
        "roundrobin"
    assert assignor_for(" cooperative-sticky ").name == "cooperative-sticky"
    with pytest.raises(ValueError, match="unknown partition assignment strategy"):
        assignor_for("random")


# --- properties ------------------------------------------------------------------------------

TOPICS = ["a", "b", "c"]

counts_st = st.dictionaries(st.sampled_from(TOPICS), st.integers(1, 12), min_size=1)
member_ids = st.lists(st.text("xyz0123456789", min_size=1, max_size=6), min_size=1,
                      max_size=7, unique=True)


@st.composite
def groups(draw, same_subscription: bool | None = None):
    counts = draw(counts_st)
    members = draw(member_ids)
    same = draw(st.booleans()) if same_subscription is None else same_subscription
    if same:
        topics = draw(st.lists(st.sampled_from(TOPICS), min_size=1, unique=True))
        subs = {m: tuple(topics) for m in members}
    else:
        subs = {m: tuple(draw(st.lists(st.sampled_from(TOPICS), min_size=1, unique=True)))
                for m in members}
    return counts, subs


def expected_partitions(counts, subs):
    wanted = {t for ts in subs.values() for t in ts if t in counts}
    return sorted(TP(t, p) for t in wanted for p in range(counts[t]))


def check_exactly_once(counts, subs, out):
    flat = [tp for ps in out.values() for tp in ps]
    assert sorted(flat) == expected_partitions(counts, subs)
    for member, ps in out.items():
        assert all(tp.topic in subs[member] for tp in ps), "assigned an unsubscribed topic"


@settings(max_examples=150, deadline=None)
@given(groups())
def test_range_assigns_each_partition_once_balanced_per_topic(group):
    counts, subs = group
    out = range_assign(counts, subs)
    check_exactly_once(counts, subs, out)
    for topic in counts:
        sizes = [sum(tp.topic == topic for tp in out[m]) for m in subs if topic in subs[m]]
        if sizes:
            assert max(sizes) - min(sizes) <= 1


@settings(max_examples=150, deadline=None)
@given(groups())
def test_roundrobin_assigns_each_partition_once(group):
    counts, subs = group
    out = roundrobin_assign(counts, subs)
    check_exactly_once(counts, subs, out)
    if len(set(subs.values())) == 1:
        sizes = [len(ps) for ps in out.values()]
        assert max(sizes) - min(sizes) <= 1


def sticky_members(subs, previous=None, generation=None):
    previous = previous or {}
    return {m: StickyMember(topics=ts, owned=tuple(previous.get(m, ())), generation=generation)
            for m, ts in subs.items()}


def balanced(counts, subs, out) -> bool:
    """Kafka's sticky balance criterion: no partition could move to a member that has at least
    two fewer partitions and subscribes to its topic."""
    for src, ps in out.items():
        for tp in ps:
            for dst in subs:
                if tp.topic in subs[dst] and len(out[dst]) + 1 < len(ps):
                    return False
    return True


@settings(max_examples=150, deadline=None)
@given(groups())
def test_sticky_assigns_each_partition_once_and_is_balanced(group):
    counts, subs = group
    out = sticky_assign(counts, sticky_members(subs))
    check_exactly_once(counts, subs, out)
    assert balanced(counts, subs, out)
    if len(set(subs.values())) == 1:
        sizes = [len(ps) for ps in out.values()]
        assert max(sizes) - min(sizes) <= 1


@settings(max_examples=150, deadline=None)
@given(groups())
def test_sticky_output_is_a_fixed_point(group):
    counts, subs = group
    first = sticky_assign(counts, sticky_members(subs))
    again = sticky_assign(counts, sticky_members(subs, first, generation=3))
    assert again == first


@settings(max_examples=150, deadline=None)
@given(groups(same_subscription=True), st.data())
def test_sticky_keeps_everything_when_a_member_leaves(group, data):
    counts, subs = group
    assume(len(subs) >= 2)
    first = sticky_assign(counts, sticky_members(subs))
    leaver = data.draw(st.sampled_from(sorted(subs)))
    rest = {m: t for m, t in subs.items() if m != leaver}
    second = sticky_assign(counts, sticky_members(rest, first, generation=1))
    check_exactly_once(counts, rest, second)
    for m in rest:
        assert set(first[m]) <= set(second[m]), f"{m} lost partitions it kept owning"


@settings(max_examples=150, deadline=None)
@given(groups(same_subscription=True), st.text("qrs", min_size=1, max_size=4))
def test_sticky_only_takes_partitions_away_when_a_member_joins(group, newcomer):
    counts, subs = group
    assume(newcomer not in subs)
    first = sticky_assign(counts, sticky_members(subs))
    grown = {**subs, newcomer: next(iter(subs.values()))}
    second = sticky_assign(counts, sticky_members(grown, first, generation=1))
    check_exactly_once(counts, grown, second)
    for m in subs:
        assert set(second[m]) <= set(first[m])
    sizes = [len(ps) for ps in second.values()]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=100, deadline=None)
@given(groups(same_subscription=True), st.text("qrs", min_size=1, max_size=4))
def test_cooperative_never_hands_out_a_partition_someone_else_still_owns(group, newcomer):
    counts, subs = group
    assume(newcomer not in subs)
    assignor = CooperativeStickyAssignor()

    def members(owned, generation):
        return [MemberSubscription(member_id=m, subscription=Subscription.decode(
            assignor.subscription(ts, owned.get(m, ()), generation).encode()))
            for m, ts in grown.items()]

    grown = {**subs, newcomer: next(iter(subs.values()))}
    first = {m: list(a.partitions) for m, a in assignor.assign(
        counts, [MemberSubscription(member_id=m, subscription=Subscription(topics=ts))
                 for m, ts in subs.items()]).items()}
    round1 = {m: list(a.partitions) for m, a in assignor.assign(counts, members(first, 1)).items()}
    owned_by_others = {m: {tp for o, ps in first.items() if o != m for tp in ps} for m in grown}
    flat = [tp for ps in round1.values() for tp in ps]
    assert len(flat) == len(set(flat))
    for m, ps in round1.items():
        assert not set(ps) & owned_by_others[m]
    # owners revoke what they lost; the follow-up round completes the move
    kept = {m: [tp for tp in first.get(m, []) if tp in round1[m]] + [
        tp for tp in round1[m] if tp not in first.get(m, [])] for m in grown}
    round2 = {m: list(a.partitions) for m, a in assignor.assign(counts, members(kept, 2)).items()}
    check_exactly_once(counts, grown, round2)
    sizes = [len(ps) for ps in round2.values()]
    assert max(sizes) - min(sizes) <= 1


def test_sticky_ignores_claims_of_older_generations_and_double_claims():
    counts = {"t": 4}
    members = {
        "a": StickyMember(topics=("t",), owned=tuple(tps(("t", 0), ("t", 1))), generation=5),
        "b": StickyMember(topics=("t",), owned=tuple(tps(("t", 0), ("t", 2))), generation=4),
        "c": StickyMember(topics=("t",), owned=tuple(tps(("t", 3))), generation=5),
    }
    out = sticky_assign(counts, members)
    assert TP("t", 0) in out["a"] and TP("t", 3) in out["c"]
    double = {
        "a": StickyMember(topics=("t",), owned=tuple(tps(("t", 0))), generation=1),
        "b": StickyMember(topics=("t",), owned=tuple(tps(("t", 0))), generation=1),
    }
    out = sticky_assign({"t": 2}, double)
    check_exactly_once({"t": 2}, {"a": ("t",), "b": ("t",)}, out)


# --- ConsumerProtocol bytes ------------------------------------------------------------------


def test_subscription_and_assignment_layouts():
    sub = Subscription(topics=("t",), user_data=b"u", version=0)
    assert sub.encode() == b"\x00\x00" b"\x00\x00\x00\x01\x00\x01t" b"\x00\x00\x00\x01u"
    v1 = Subscription(topics=("t",), owned_partitions=(TP("t", 2),))
    assert v1.encode() == (b"\x00\x01" b"\x00\x00\x00\x01\x00\x01t" b"\xff\xff\xff\xff"
                           b"\x00\x00\x00\x01\x00\x01t\x00\x00\x00\x01\x00\x00\x00\x02")
    assert Subscription.decode(v1.encode()) == v1
    a = Assignment(partitions=(TP("t", 0), TP("u", 1), TP("t", 1)), user_data=None)
    decoded = Assignment.decode(a.encode())
    assert decoded.partitions == (TP("t", 0), TP("t", 1), TP("u", 1))
    assert Assignment.decode(b"").partitions == ()


def test_newer_versions_are_read_with_the_newest_layout_we_know():
    v3 = Subscription(topics=("a", "b"), owned_partitions=(TP("a", 0),), generation_id=7,
                      rack_id="r1", version=3)
    future = b"\x00\x09" + v3.encode()[2:] + b"trailing fields of v9"
    got = Subscription.decode(future)
    assert (got.topics, got.generation_id, got.rack_id, got.version) == (("a", "b"), 7, "r1", 9)


def test_sticky_user_data_v1_and_v0():
    data = encode_sticky_user_data(tps(("t", 1), ("t", 0)), 4)
    assert decode_sticky_user_data(data) == ((TP("t", 0), TP("t", 1)), 4)
    v0 = data[:-4]
    assert decode_sticky_user_data(v0) == ((TP("t", 0), TP("t", 1)), None)
    assert decode_sticky_user_data(b"\x01") == ((), None)


def kafka_python_consumer_protocol():
    """kafka-python 3.x's ConsumerProtocol classes (generated from Kafka's JSON specs)."""
    return pytest.importorskip("kafka.protocol.consumer.metadata")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(TOPICS), unique=True),
       st.one_of(st.none(), st.binary(max_size=8)),
       st.lists(st.tuples(st.sampled_from(TOPICS), st.integers(0, 50)), unique=True),
       st.integers(-1, 100), st.integers(0, 3))
def test_subscription_bytes_match_kafka_python(topics, user_data, owned, generation, version):
    kp_metadata = kafka_python_consumer_protocol()
    owned = owned if version >= 1 else []
    ours = Subscription(topics=tuple(topics), user_data=user_data,
                        owned_partitions=tuple(sorted(TP(t, p) for t, p in owned)),
                        generation_id=generation if version >= 2 else -1, version=version)
    theirs = kp_metadata.ConsumerProtocolSubscription.decode(ours.encode())
    assert list(theirs.topics) == topics
    assert theirs.user_data == user_data
    if version >= 1:
        assert [(tp.topic, p) for tp in theirs.owned_partitions for p in tp.partitions] == \
            [(tp.topic, tp.partition) for tp in ours.owned_partitions]
    Sub = kp_metadata.ConsumerProtocolSubscription
    grouped: dict[str, list[int]] = {}
    for tp in ours.owned_partitions:
        grouped.setdefault(tp.topic, []).append(tp.partition)
    kwargs = {"topics": topics, "user_data": user_data}
    if version >= 1:
        kwargs["owned_partitions"] = [Sub.TopicPartition(topic=t, partitions=ps)
                                      for t, ps in grouped.items()]
    if version >= 2:
        kwargs["generation_id"] = generation
    encoded = Sub(version=version, **kwargs).encode()
    assert Subscription.decode(encoded) == ours
    assert bytes(encoded) == ours.encode()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TOPICS), st.integers(0, 50)), unique=True),
       st.one_of(st.none(), st.binary(max_size=8)))
def test_assignment_bytes_match_kafka_python(partitions, user_data):
    kp_metadata = kafka_python_consumer_protocol()
    grouped: dict[str, list[int]] = {}
    for t, p in sorted(partitions):
        grouped.setdefault(t, []).append(p)
    ours = Assignment(partitions=tuple(TP(t, p) for t, ps in grouped.items() for p in ps),
                      user_data=user_data)
    Asg = kp_metadata.ConsumerProtocolAssignment
    theirs = Asg.decode(ours.encode())
    assert sorted((tp.topic, tp.partition) for tp in theirs.partitions()) == sorted(partitions)
    assert theirs.user_data == user_data
    encoded = Asg(version=1, assigned_partitions=[
        Asg.TopicPartition(topic=t, partitions=ps) for t, ps in grouped.items()],
        user_data=user_data).encode()
    assert bytes(encoded) == ours.encode()


def test_sticky_user_data_is_javas_layout_and_reads_kafka_pythons():
    # Java's StickyAssignor writes STICKY_ASSIGNOR_USER_DATA_V1 with no version prefix
    ours = encode_sticky_user_data(tps(("a", 0), ("a", 3), ("b", 1)), 9)
    assert ours == bytes.fromhex("00000002" "000161" "00000002" "00000000" "00000003"
                                 "000162" "00000001" "00000001" "00000009")
    user_data = pytest.importorskip("kafka.coordinator.assignors.sticky.user_data")
    theirs = user_data.StickyAssignorUserData.decode(ours, version=1, header=False)
    assert [(t, list(ps)) for t, ps in theirs.previous_assignment] == [("a", [0, 3]),
                                                                       ("b", [1])]
    assert theirs.generation == 9
    # kafka-python 3.x prefixes its own encoding with an int16 version: accepted as well
    prefixed = bytes(user_data.StickyAssignorUserData([("a", [0, 3]), ("b", [1])], 9).encode())
    assert prefixed == b"\x00\x01" + ours
    assert decode_sticky_user_data(prefixed) == (tuple(tps(("a", 0), ("a", 3), ("b", 1))), 9)


def test_assignor_objects_round_trip_through_subscriptions():
    sticky = StickyAssignor()
    sticky.on_assignment(Assignment(partitions=(TP("t", 1),)), 3)
    sub = Subscription.decode(sticky.subscription(["t"], [], 3).encode())
    assert StickyAssignor.member_data(sub) == StickyMember(topics=("t",), owned=(TP("t", 1),),
                                                           generation=3)
    coop = CooperativeStickyAssignor()
    sub = Subscription.decode(coop.subscription(["t"], [TP("t", 0)], 4).encode())
    assert CooperativeStickyAssignor.member_data(sub) == StickyMember(
        topics=("t",), owned=(TP("t", 0),), generation=4)
    members = [MemberSubscription(member_id=m, subscription=Subscription(topics=("t",)))
               for m in ("m1", "m2")]
    for assignor in (RangeAssignor(), RoundRobinAssignor()):
        out = assignor.assign({"t": 3}, members)
        assert sorted(tp for a in out.values() for tp in a.partitions) == tps(
            ("t", 0), ("t", 1), ("t", 2))
