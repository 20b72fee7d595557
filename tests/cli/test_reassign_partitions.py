import json
import random

import pytest
from click.testing import CliRunner

from kafkalite.cli.reassign_partitions import (
    ReassignError, check_reassignment, check_targets, current_assignment_text,
    format_reassignment_json, kafka_reassign_partitions, list_lines, parse_broker_list,
    parse_reassignment, parse_topics_to_move, propose_assignment, started_line, verify_lines)
from kafkalite.client.admin import PartitionReassignment
from kafkalite.model import TopicPartition

T0, T1, U0 = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("u", 0)


def test_reassignment_json_round_trips_in_kafka_format():
    text = format_reassignment_json({T1: (2, 0), T0: (1, 2)})
    # Kafka's compact Jackson output, partitions sorted, every log dir "any".
    assert text == ('{"version":1,"partitions":['
                    '{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},'
                    '{"topic":"t","partition":1,"replicas":[2,0],"log_dirs":["any","any"]}]}')
    assert parse_reassignment(text) == [(T0, (1, 2)), (T1, (2, 0))]


def test_log_dirs_are_optional_but_must_be_any():
    assert parse_reassignment('{"partitions":[{"topic":"t","partition":0,"replicas":[3]}]}') \
        == [(T0, (3,))]
    with pytest.raises(ReassignError, match="log directories"):
        parse_reassignment('{"version":1,"partitions":[{"topic":"t","partition":0,'
                           '"replicas":[1],"log_dirs":["/data/a"]}]}')
    with pytest.raises(ReassignError, match="Size of replicas list"):
        parse_reassignment('{"version":1,"partitions":[{"topic":"t","partition":0,'
                           '"replicas":[1,2],"log_dirs":["any"]}]}')


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1]", "must be a JSON object"),
    ('{"version":2,"partitions":[]}', "Not supported version field value 2"),
    ('{"version":1,"partitions":[{"topic":"t","partition":"0","replicas":[1]}]}', "needs"),
    ('{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[true]}]}', "needs"),
    ('{"version":1,"partitions":{}}', "must be a list"),
])
def test_bad_reassignment_json_is_a_clear_error(text, message):
    with pytest.raises(ReassignError, match=message):
        parse_reassignment(text)


@pytest.mark.parametrize("parts, message", [
    ([], "Partition reassignment list cannot be empty"),
    ([(T0, ())], "Partition replica list cannot be empty"),
    ([(T0, (1,)), (T0, (2,))], "duplicate topic partitions: t-0"),
    ([(T0, (1, 2, 1))], "may not contain duplicate entries: t-0 contains multiple entries for 1"),
    ([(T0, (-1,))], "must not be negative"),
])
def test_execute_checks_use_kafkas_wording(parts, message):
    with pytest.raises(ReassignError, match=message):
        check_reassignment(parts)


def test_check_reassignment_returns_the_map():
    assert check_reassignment([(T0, (1, 2)), (U0, (0,))]) == {T0: (1, 2), U0: (0,)}


def test_targets_must_exist_and_brokers_be_registered():
    current = {T0: (0, 1), T1: (1, 0)}
    check_targets({T0: (1, 2)}, current, [0, 1, 2])
    with pytest.raises(ReassignError, match="non-existent partitions: t-5"):
        check_targets({TopicPartition("t", 5): (1,)}, current, [0, 1, 2])
    with pytest.raises(ReassignError, match=r"Unknown broker id 7 \(live brokers: 0,1,2\)"):
        check_targets({T0: (1, 7)}, current, [0, 1, 2])


def test_broker_list_and_topics_to_move():
    assert parse_broker_list("1,2,0") == [1, 2, 0]
    with pytest.raises(ReassignError, match="duplicate entries: 1"):
        parse_broker_list("1,2,1")
    with pytest.raises(ReassignError, match="Invalid broker list"):
        parse_broker_list("1,x")
    assert parse_topics_to_move('{"version":1,"topics":[{"topic":"a"},{"topic":"b"}]}') \
        == ["a", "b"]
    with pytest.raises(ReassignError, match="duplicate entries: a"):
        parse_topics_to_move('{"version":1,"topics":[{"topic":"a"},{"topic":"a"}]}')
    with pytest.raises(ReassignError, match="no topics"):
        parse_topics_to_move('{"version":1,"topics":[]}')
    with pytest.raises(ReassignError, match='"topics" must be'):
        parse_topics_to_move('{"version":1,"topics":["a"]}')


def test_proposal_keeps_partition_count_and_replication_factor():
    current = {TopicPartition("t", p): (0, 1) for p in range(4)} | {U0: (0,)}
    proposal = propose_assignment(current, [1, 2], random.Random(7))
    assert sorted(proposal) == sorted(current)
    for tp, replicas in proposal.items():
        assert len(replicas) == len(current[tp])
        assert len(set(replicas)) == len(replicas) and set(replicas) <= {1, 2}
    # Leaders spread over both brokers, as Kafka's rule does.
    assert {proposal[TopicPartition("t", p)][0] for p in range(4)} == {1, 2}
    with pytest.raises(ReassignError, match="larger than available brokers: 1"):
        propose_assignment(current, [2], random.Random(7))


def test_execute_output_lines():
    text = current_assignment_text([T0], {T0: (0, 1), T1: (1, 0)})
    assert text.splitlines() == [
        "Current partition replica assignment", "",
        '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[0,1],'
        '"log_dirs":["any","any"]}]}',
        "", "Save this to use as the --reassignment-json-file option during rollback"]
    assert started_line([T1, T0]) == "Successfully started partition reassignments for t-0,t-1"
    assert started_line([T0]) == "Successfully started partition reassignment for t-0"


def test_verify_lines():
    assert verify_lines({T1: ((0, 1, 2), (1, 2), False), T0: ((1, 2), (1, 2), True),
                         U0: ((0,), (2,), True)}) == [
        "Status of partition reassignment:",
        "Reassignment of partition t-0 is complete.",
        "Reassignment of partition t-1 is still in progress.",
        "There is no active reassignment of partition u-0, but replica set is 0 rather than 2.",
    ]


def test_list_lines():
    assert list_lines({}) == ["No partition reassignments found."]
    assert list_lines({T0: PartitionReassignment(replicas=(1, 2, 0), adding=(2,), removing=(0,)),
                       U0: PartitionReassignment(replicas=(1,))}) == [
        "Current partition reassignments:",
        "t-0: replicas: 1,2,0. adding: 2. removing: 0.",
        "u-0: replicas: 1.",
    ]


@pytest.mark.parametrize("args, message", [
    (["--bootstrap-server", "h:1"], "exactly one action"),
    (["--bootstrap-server", "h:1", "--execute", "--verify"], "exactly one action"),
    (["--execute", "--reassignment-json-file", "f"], "Please specify --bootstrap-server"),
    (["--bootstrap-server", "h:1", "--execute"], 'Missing required argument "--reassignment'),
    (["--bootstrap-server", "h:1", "--generate", "--broker-list", "1"],
     '"--topics-to-move-json-file"'),
    (["--bootstrap-server", "h:1", "--execute", "--reassignment-json-file", "f",
      "--broker-list", "1"], 'Option "--broker-list" can\'t be used with action "--execute"'),
    (["--zookeeper", "z:1", "--list"], 'You must specify --bootstrap-server when using "--list"'),
    (["--zookeeper", "z:1", "--execute", "--reassignment-json-file", "f", "--additional"],
     '"--additional"'),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(kafka_reassign_partitions, args)
    assert result.exit_code == 2
    assert message in result.output


def test_missing_or_bad_file_fails_before_connecting(tmp_path):
    args = ["--bootstrap-server", "127.0.0.1:1", "--execute", "--reassignment-json-file"]
    result = CliRunner().invoke(kafka_reassign_partitions, args + [str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "ERROR: Unable to read" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "t", "partition": 0, "replicas": [1, 1]}]}))
    result = CliRunner().invoke(kafka_reassign_partitions, args + [str(bad)])
    assert result.exit_code == 1
    assert "Partition replica lists may not contain duplicate entries" in result.output
