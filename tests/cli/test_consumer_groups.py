"""kafka-consumer-groups: Kafka 2.8's tables and messages, flag rules, whole runs in memory."""

from __future__ import annotations

import datetime

import pytest
from click.testing import CliRunner

from kafkalite.model import TopicPartition as TP
from kafkalite.records.builder import build_batch
from kafkalite.cli.consumer_groups import (
    CommandError,
    GroupInfo,
    MemberInfo,
    PartitionRow,
    consumer_groups,
    parse_datetime,
    parse_duration,
    parse_reset_file,
    render_group_states,
    render_members,
    render_offsets,
    render_reset,
    render_state,
    state_check,
)
from kafkalite.client.assignors import Assignment, Subscription
from kafkalite.client.group import Coordinator

from client.test_group_coordinator_fake import FakeGroupKafka, FakeMember  # noqa: I001


def row(**kw):
    base = dict(group="g", topic="t", partition=0, offset=5, log_end_offset=8,
                consumer_id="c-1", host="/127.0.0.1", client_id="app")
    base.update(kw)
    return PartitionRow(**base)


def test_offsets_table_matches_kafka_2_8():
    lines = render_offsets([row(), row(partition=1, offset=None, consumer_id="-", host="-",
                                       client_id="-")])
    assert lines == [
        "",
        "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG         "
        "    CONSUMER-ID     HOST            CLIENT-ID",
        "g               t               0          5               8               3           "
        "    c-1             /127.0.0.1      app",
        "g               t               1          -               8               -           "
        "    -               -               -",
    ]


def test_columns_grow_with_long_values():
    long_id = "consumer-1-0f9ab3c2-5c4e-4a7e-9d62-1f0e6f5c0d11"
    lines = render_offsets([row(group="a-rather-long-group", topic="orders.v2", consumer_id=long_id)])
    header, data = lines[1], lines[2]
    assert header.index("TOPIC") == len("a-rather-long-group") + 1
    assert header.index("HOST") == data.index("/127.0.0.1")
    assert data.split()[6] == long_id


def test_members_state_and_group_state_tables():
    members = [MemberInfo(member_id="c-1", client_id="app", host="/10.0.0.1",
                          assignment=(TP("t", 1), TP("t", 0), TP("u", 2))),
               MemberInfo(member_id="c-2", client_id="app", host="/10.0.0.2")]
    assert render_members("g", members, verbose=True) == [
        "",
        "GROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     "
        "ASSIGNMENT",
        "g               c-1             /10.0.0.1       app             3               "
        "t(0,1), u(2)",
        "g               c-2             /10.0.0.2       app             0               -",
    ]
    plain = render_members("g", members, verbose=False)
    assert plain[1].endswith("#PARTITIONS     ") and plain[2].endswith("3               ")
    static = render_members("g", [MemberInfo(member_id="c", group_instance_id="i-1")], False)
    assert "GROUP-INSTANCE-ID" in static[1] and "i-1" in static[2]
    info = GroupInfo(group_id="g", state="Stable", protocol="range", members=tuple(members),
                     coordinator=Coordinator(0, "localhost", 9092))
    assert render_state(info) == [
        "",
        "GROUP                     COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE          "
        " #MEMBERS",
        "g                         localhost:9092 (0)        range                Stable         "
        " 2",
    ]
    assert render_group_states([("g", "Stable"), ("other", "Empty")]) == [
        "GROUP           STATE", "g               Stable", "other           Empty"]
    assert render_reset({"g": {TP("t", 1): 4, TP("t", 0): 2}}) == [
        "",
        "GROUP                          TOPIC                          PARTITION  NEW-OFFSET     ",
        "g                              t                              0          2              ",
        "g                              t                              1          4              ",
    ]


def test_state_messages():
    assert state_check("g", "Stable", 2) == (True, [])
    assert state_check("g", "Empty", 1) == (True, ["\nConsumer group 'g' has no active members."])
    assert state_check("g", "PreparingRebalance", 0) == (
        False, ["\nWarning: Consumer group 'g' is rebalancing."])
    with pytest.raises(CommandError, match="Consumer group 'g' does not exist."):
        state_check("g", "Dead", 0)


def test_kafka_time_formats():
    assert parse_datetime("2021-03-04T05:06:07.089") == int(datetime.datetime(
        2021, 3, 4, 5, 6, 7, 89000, tzinfo=datetime.timezone.utc).timestamp() * 1000)
    assert parse_datetime("2021-03-04T05:06:07.089+01:00") == \
        parse_datetime("2021-03-04T04:06:07.089Z")
    with pytest.raises(CommandError, match='Unparseable date: "2021-03-04"'):
        parse_datetime("2021-03-04")
    assert parse_duration("PT1H30M") == 5_400_000
    assert parse_duration("P1DT0.5S") == 86_400_500
    assert parse_duration("-PT10S") == -10_000
    for bad in ("P", "PT", "1H", "PT1X"):
        with pytest.raises(CommandError, match="Text cannot be parsed to a Duration"):
            parse_duration(bad)


def test_reset_file_formats():
    assert parse_reset_file("t,0,5\nt,1,6\n", ["g"]) == {"g": {TP("t", 0): 5, TP("t", 1): 6}}
    assert parse_reset_file("a,t,0,5\nb,t,0,1", ["a", "b"]) == {"a": {TP("t", 0): 5},
                                                                "b": {TP("t", 0): 1}}
    with pytest.raises(CommandError, match="Invalid line 1"):
        parse_reset_file("t,x,5", ["g"])


# --- whole runs against the in-memory coordinator ----------------------------------------------


@pytest.fixture
def kafka(monkeypatch) -> FakeGroupKafka:
    k = FakeGroupKafka().install(monkeypatch)
    k.create_topic("t", 2)
    for p, values in ((0, [b"a", b"b", b"c"]), (1, [b"d"])):
        for v in values:
            k.logs[("t", p)].append(build_batch([(None, v, (), 1_600_000_000_000)]))
    return k


def tool(*args):
    return CliRunner().invoke(consumer_groups, ["--bootstrap-server", "fake:9092", *args])


def add_member(kafka, group_id, member_id, partitions):
    g = kafka.group(group_id)
    g.protocol_type, g.protocol, g.state, g.generation = "consumer", "range", "Stable", 1
    g.members[member_id] = FakeMember(
        member_id=member_id, client_id="app", session_timeout_ms=10**9,
        rebalance_timeout_ms=10**9,
        protocols=[("range", Subscription(topics=("t",)).encode())],
        assignment=Assignment(partitions=tuple(partitions)).encode())


def test_list_and_describe_an_active_group(kafka):
    add_member(kafka, "g", "app-1", [TP("t", 0), TP("t", 1)])
    kafka.group("g").offsets[("t", 0)] = (1, "")
    kafka.group("simple").offsets[("t", 1)] = (1, "")
    result = tool("--list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["g", "simple"]
    result = tool("--describe", "--group", "g")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "" and lines[1].split() == [
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID",
        "HOST", "CLIENT-ID"]
    assert [line.split() for line in lines[2:]] == [
        ["g", "t", "0", "1", "3", "2", "app-1", "/127.0.0.1", "app"],
        ["g", "t", "1", "-", "1", "-", "app-1", "/127.0.0.1", "app"]]
    result = tool("--describe", "--group", "g", "--members", "--verbose")
    assert result.stdout.splitlines()[2].split() == ["g", "app-1", "/127.0.0.1", "app", "2",
                                                     "t(0,1)"]
    result = tool("--describe", "--group", "g", "--state")
    assert result.stdout.splitlines()[2].split() == ["g", "fake:9092", "(0)", "range",
                                                     "Stable", "1"]
    result = tool("--list", "--state")
    assert result.stdout.splitlines() == ["GROUP           STATE", "g               Stable",
                                          "simple          Empty"]
    assert tool("--list", "--state", "empty").stdout.splitlines()[1:] == [
        "simple          Empty"]


def test_describe_messages_for_empty_and_missing_groups(kafka):
    kafka.group("idle").offsets[("t", 0)] = (3, "")
    result = tool("--describe", "--group", "idle")
    assert result.exit_code == 0
    assert "Consumer group 'idle' has no active members." in result.stderr
    assert result.stdout.splitlines()[2].split() == ["idle", "t", "0", "3", "3", "0", "-", "-",
                                                     "-"]
    result = tool("--describe", "--group", "nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: Consumer group 'nope' does not exist.\n"
    assert result.stdout == ""


def test_reset_offsets_dry_run_execute_and_refusal(kafka):
    kafka.group("g").offsets[("t", 0)] = (1, "")
    result = tool("--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest")
    assert result.exit_code == 0, result.output
    assert "WARN: No action will be performed as the --execute option is missing." in \
        result.stderr
    assert [line.split() for line in result.stdout.splitlines()[2:]] == [
        ["g", "t", "0", "0"], ["g", "t", "1", "0"]]
    assert kafka.committed("g") == {("t", 0): 1}
    result = tool("--reset-offsets", "--group", "g", "--topic", "t:0", "--shift-by", "5",
                  "--execute")
    assert result.exit_code == 0, result.output
    assert "New offset (6) is higher than latest offset for topic partition t-0. Value will " \
           "be set to 3" in result.stderr
    assert kafka.committed("g") == {("t", 0): 3}
    result = tool("--reset-offsets", "--group", "g", "--all-topics", "--to-offset", "2",
                  "--execute")
    assert kafka.committed("g") == {("t", 0): 2}
    result = tool("--reset-offsets", "--group", "g", "--topic", "t", "--to-latest",
                  "--execute", "--export")
    assert result.stdout.splitlines() == ["t,0,3", "t,1,1"]
    result = tool("--reset-offsets", "--group", "g", "--topic", "t:1", "--shift-by", "-1",
                  "--dry-run")
    assert result.exit_code == 0, result.output
    add_member(kafka, "g", "app-1", [TP("t", 0)])
    result = tool("--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest",
                  "--execute")
    assert result.exit_code == 1
    assert "Error: Assignments can only be reset if the group 'g' is inactive, but the " \
           "current state is Stable." in result.stderr


def test_reset_to_datetime_duration_current_and_unknown_shift(kafka):
    kafka.group("g").offsets[("t", 0)] = (2, "")
    result = tool("--reset-offsets", "--group", "g", "--topic", "t", "--to-current",
                  "--dry-run")
    assert [line.split()[3] for line in result.stdout.splitlines()[2:]] == ["2", "1"]
    result = tool("--reset-offsets", "--group", "g", "--topic", "t:1", "--shift-by", "1",
                  "--dry-run")
    assert result.exit_code == 1
    assert "Cannot shift offset for partition t-1 since there is no current committed " \
           "offset" in result.stderr
    result = tool("--reset-offsets", "--group", "g", "--topic", "t:0",
                  "--to-datetime", "2020-01-01T00:00:00.000", "--dry-run")
    assert result.exit_code == 0, result.output  # the fake answers the log end for times


def test_delete_groups_and_offsets(kafka):
    kafka.group("idle").offsets[("t", 0)] = (1, "")
    add_member(kafka, "busy", "app-1", [TP("t", 0)])
    kafka.group("busy").offsets[("t", 0)] = (1, "")
    result = tool("--delete", "--group", "idle")
    assert result.exit_code == 0
    assert result.stdout == "Deletion of requested consumer groups ('idle') was successful.\n"
    result = tool("--delete", "--group", "busy")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Deletion of some consumer groups failed: * Group "
                                    "'busy' could not be deleted due to: NON_EMPTY_GROUP")
    result = tool("--delete-offsets", "--group", "busy", "--topic", "t")
    assert result.exit_code == 1
    assert "Encounter some partition level error" in result.stderr
    assert "GroupSubscribedToTopic" not in result.stdout
    kafka.group("left").offsets[("t", 0)] = (1, "")
    result = tool("--delete-offsets", "--group", "left", "--topic", "t:0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Request succeed for deleting offsets with topic " \
                                            "t:0 group left"
    assert result.stdout.splitlines()[3].split() == ["t", "0", "Successful"]
    assert kafka.committed("left") == {}


@pytest.mark.parametrize("args,message", [
    ([], "exactly one action"),
    (["--list", "--describe"], "exactly one action"),
    (["--describe"], "takes one of these options: [all-groups], [group]"),
    (["--describe", "--group", "g", "--members", "--state"], "at most one of"),
    (["--reset-offsets", "--group", "g", "--topic", "t"], "requires one of the following"),
    (["--reset-offsets", "--group", "g", "--to-earliest"], "One of the reset scopes"),
    (["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--to-latest"],
     "takes only one of"),
    (["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--dry-run",
      "--execute"], "only accepts one of [execute] and [dry-run]"),
    (["--delete", "--group", "g", "--topic", "t"], "topic-specific offset deletion"),
    (["--delete-offsets", "--group", "g"], "takes the following options: [group], [topic]"),
    (["--list", "--state", "sleepy"], "Invalid state list 'sleepy'"),
])
def test_flag_rules(args, message):
    result = CliRunner().invoke(consumer_groups, ["--bootstrap-server", "x:1", *args])
    assert result.exit_code == 2 and message in result.output


def test_unreachable_broker_is_one_line(kafka):
    kafka.refuse.add(("down", 1))
    result = CliRunner().invoke(consumer_groups, ["--bootstrap-server", "down:1", "--list"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
