"""kafka-leader-election / kafka-preferred-replica-election / kafka-topics --alter: option
checks, the JSON file and the report lines (pure: no broker, no ZooKeeper)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kafkalite import errors
from kafkalite.cli.leader_election import format_results, main as leader_election
from kafkalite.cli.leader_election import parse_election_json
from kafkalite.cli.preferred_replica_election import main as preferred_election
from kafkalite.cli.topics import Options, _new_partition_count, _new_partition_replicas
from kafkalite.cli.topics import main as kafka_topics
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition


def tp(name):
    topic, _, partition = name.rpartition("-")
    return TopicPartition(topic, int(partition))


# -- the JSON file ---------------------------------------------------------------------------

def test_json_file_format():
    text = json.dumps({"partitions": [{"topic": "foo", "partition": 1},
                                      {"topic": "foo-bar", "partition": 0}]})
    assert parse_election_json(text) == [tp("foo-1"), tp("foo-bar-0")]
    assert parse_election_json('{"partitions": []}') == []


@pytest.mark.parametrize("text, message", [
    ("", "Replica election data is empty"),
    ("{not json", "Replica election data is empty"),
    ("{}", 'Replica election data is missing "partitions" field'),
    ('{"partitions": {}}', '"partitions" must be a JSON array'),
    ('{"partitions": [{"topic": "t"}]}', 'Each partition needs a string "topic" and an '
                                         'integer "partition": {"topic": "t"}'),
    ('{"partitions": [{"topic": "t", "partition": "0"}]}', 'integer "partition"'),
    ('{"partitions": [{"topic": "t", "partition": 0}, {"topic": "u", "partition": 1},'
     ' {"topic": "t", "partition": 0}, {"topic": "u", "partition": 1}]}',
     "Replica election data contains duplicate partitions: t-0,u-1"),
])
def test_json_file_errors(text, message):
    with pytest.raises(ConfigError) as e:
        parse_election_json(text)
    assert message in str(e.value)


def test_preferred_tool_wording():
    with pytest.raises(ConfigError, match="^Preferred replica election data contains duplicate"):
        parse_election_json('{"partitions": [{"topic": "t", "partition": 0}, '
                            '{"topic": "t", "partition": 0}]}',
                            what="Preferred replica election data")


# -- report lines ----------------------------------------------------------------------------

def test_report_lines_are_kafkas():
    results = {
        tp("t-0"): None,
        tp("t-1"): None,
        tp("t-2"): errors.ElectionNotNeeded("Leader election not needed for topic partition."),
        tp("t-3"): errors.PreferredLeaderNotAvailable("Failed to elect leader for partition t-3"),
        tp("u-0"): errors.UnknownTopicOrPartition("The partition does not exist."),
    }
    lines, failed = format_results(
        results, succeeded="Successfully completed leader election (PREFERRED) for partitions",
        noop="Valid replica already elected for partitions",
        failed="Error completing leader election (PREFERRED) for partition:")
    assert failed == 2
    assert lines == [
        "Successfully completed leader election (PREFERRED) for partitions t-0, t-1",
        "Valid replica already elected for partitions t-2",
        "Error completing leader election (PREFERRED) for partition: t-3: "
        "PREFERRED_LEADER_NOT_AVAILABLE: Failed to elect leader for partition t-3",
        "Error completing leader election (PREFERRED) for partition: u-0: "
        "UNKNOWN_TOPIC_OR_PARTITION: The partition does not exist.",
    ]
    assert format_results({}, succeeded="a", noop="b", failed="c") == ([], 0)


# -- options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ([], "Missing required option(s): bootstrap-server, election-type"),
    (["--bootstrap-server", "h:1"], "Missing required option(s): election-type"),
    (["--bootstrap-server", "h:1", "--election-type", "preferred"],
     "One and only one of the following options is required: topic, all-topic-partitions, "
     "path-to-json-file"),
    (["--bootstrap-server", "h:1", "--election-type", "preferred", "--topic", "t",
      "--all-topic-partitions"], "One and only one of the following options is required"),
    (["--bootstrap-server", "h:1", "--election-type", "preferred", "--topic", "t"],
     "Missing required option(s): partition"),
    (["--bootstrap-server", "h:1", "--election-type", "preferred", "--all-topic-partitions",
      "--partition", "0"], "Option partition is only allowed if topic is used"),
    (["--bootstrap-server", "h:1", "--election-type", "dirty", "--all-topic-partitions"],
     "'dirty' is not one of"),
])
def test_leader_election_bad_options(args, message):
    result = CliRunner().invoke(leader_election, args)
    assert result.exit_code == 2
    assert message in result.output


def test_leader_election_bad_json_file(tmp_path):
    bad = tmp_path / "e.json"
    bad.write_text('{"partitions": [{"topic": "t", "partition": 0}, '
                   '{"topic": "t", "partition": 0}]}')
    result = CliRunner().invoke(leader_election, [
        "--bootstrap-server", "127.0.0.1:1", "--election-type", "PREFERRED",
        "--path-to-json-file", str(bad)])
    assert result.exit_code == 1
    assert "ERROR: Replica election data contains duplicate partitions: t-0" in result.output
    result = CliRunner().invoke(leader_election, [
        "--bootstrap-server", "127.0.0.1:1", "--election-type", "unclean",
        "--path-to-json-file", str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "ERROR: Cannot read" in result.output


@pytest.mark.parametrize("args, message", [
    ([], "Exactly one of '[bootstrap-server]' or '[zookeeper]' must be provided"),
    (["--zookeeper", "z:1", "--bootstrap-server", "h:1"], "Exactly one of"),
    (["--zookeeper", "z:1", "--admin.config", "x.properties"],
     "Option admin.config is only allowed with bootstrap-server"),
])
def test_preferred_election_bad_options(args, message):
    result = CliRunner().invoke(preferred_election, args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.startswith("This tool is deprecated. Please use kafka-leader-election "
                                    "tool. Tracking issue: KAFKA-8405\n")


@pytest.mark.parametrize("args, message", [
    (["--zookeeper", "z:1", "--alter", "--topic", "t", "--partitions", "3",
      "--replication-factor", "2"], 'Option "[replication-factor]" can\'t be used with option '
                                    '"[alter]"'),
    (["--bootstrap-server", "h:1", "--alter", "--topic", "t", "--config", "retention.ms=1"],
     'Option combination "[bootstrap-server],[config]" can\'t be used with option "[alter]"'),
    (["--bootstrap-server", "h:1", "--alter", "--topic", "t"],
     "--alter needs --partitions (or --replica-assignment)"),
    (["--zookeeper", "z:1", "--alter", "--topic", "t"],
     "--alter needs --partitions (or --replica-assignment, or --config)"),
    (["--zookeeper", "z:1", "--alter", "--partitions", "3"],
     'Missing required argument "[topic]" for --alter'),
])
def test_topics_alter_bad_options(args, message):
    result = CliRunner().invoke(kafka_topics, args)
    assert result.exit_code == 2
    assert message in result.output


def test_topics_alter_replica_assignment_lists_the_whole_topic():
    # As in Kafka: --replica-assignment covers every partition; only the entries past the
    # current count describe the new ones.
    opts = Options(action="alter", topic="t", partitions=None, replication_factor=None,
                   replica_assignment={0: [0, 1], 1: [1, 2], 2: [2, 0], 3: [0, 2]}, configs={},
                   if_not_exists=False, if_exists=False, exclude_internal=False,
                   under_replicated=False, unavailable=False)
    assert _new_partition_count(opts) == 4
    assert _new_partition_replicas(opts, 2) == [[2, 0], [0, 2]]
    assert _new_partition_replicas(opts, 4) == []
    plain = Options(action="alter", topic="t", partitions=6, replication_factor=None,
                    replica_assignment=None, configs={}, if_not_exists=False, if_exists=False,
                    exclude_internal=False, under_replicated=False, unavailable=False)
    assert _new_partition_count(plain) == 6 and _new_partition_replicas(plain, 2) is None
