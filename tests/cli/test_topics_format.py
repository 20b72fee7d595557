import pytest

from kafkalite.cli.topics import (
    CommandError, PartitionDescription, TopicDescription, format_description, parse_configs,
    parse_replica_assignment)


def test_describe_output_matches_kafka():
    t = TopicDescription("test", (PartitionDescription(0, 0, (0,), (0,)),
                                  PartitionDescription(1, -1, (1, 0), ())),
                         {"retention.ms": "1000"})
    assert format_description(t).splitlines() == [
        "Topic: test\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=1000",
        "\tTopic: test\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0",
        "\tTopic: test\tPartition: 1\tLeader: none\tReplicas: 1,0\tIsr: ",
    ]


def test_config_and_assignment_parsing():
    assert parse_configs(("retention.ms=5", "cleanup.policy=compact")) == {
        "retention.ms": "5", "cleanup.policy": "compact"}
    assert parse_replica_assignment("0:1,1:2") == {0: [0, 1], 1: [1, 2]}
    for bad in (("retention.ms",), ("nope=1",), ("retention.ms=abc",)):
        with pytest.raises(CommandError):
            parse_configs(bad)
    with pytest.raises(CommandError):
        parse_replica_assignment("1:1")
