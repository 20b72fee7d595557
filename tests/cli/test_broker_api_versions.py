"""kafka-broker-api-versions.sh: NodeApiVersions.toString(true) as Kafka 2.8 prints it."""

from __future__ import annotations

from click.testing import CliRunner

from kafkalite.cli.broker_api_versions import (
    api_name, api_version_lines, client_range, main, node_string, node_versions_text)


def test_api_names_are_kafkas():
    assert [api_name(k) for k in (0, 2, 4, 7, 22, 23, 34, 43, 56, 60)] == [
        "Produce", "ListOffsets", "LeaderAndIsr", "ControlledShutdown", "InitProducerId",
        "OffsetForLeaderEpoch", "AlterReplicaLogDirs", "ElectLeaders", "AlterIsr",
        "DescribeCluster"]
    assert api_name(999) is None


def test_lines():
    lines = api_version_lines({0: (3, 9), 18: (0, 3), 47: (0, 0), 999: (0, 1)})
    assert lines[0] == "Produce(0): 3 to 9 [usable: 9]"
    assert lines[1] == "Fetch(1): UNSUPPORTED"
    assert "ApiVersions(18): 0 to 3 [usable: 3]" in lines
    assert "OffsetDelete(47): 0 [usable: 0]" in lines
    assert "AlterIsr(56): UNSUPPORTED" in lines
    assert "DescribeProducers(61): UNSUPPORTED" in lines
    assert lines[-1] == "UNKNOWN(999): 0 to 1"
    assert not any(line.startswith("Vote(52)") for line in lines)  # not a ZK-broker API


def test_usable_is_the_highest_common_version():
    low, high = client_range(0)
    assert api_version_lines({0: (0, high + 5)})[0] == f"Produce(0): 0 to {high + 5} " \
                                                      f"[usable: {high}]"
    assert api_version_lines({0: (high + 1, high + 3)})[0].endswith("[unusable: node too new]")
    assert api_version_lines({0: (0, low - 1)})[0].endswith("[unusable: node too old]")


def test_block_format():
    text = node_versions_text({0: (3, 9)})
    lines = text.split("\n")
    assert lines[0] == "(" and lines[-1] == ")"
    assert lines[1] == "\tProduce(0): 3 to 9 [usable: 9],"
    assert all(line.startswith("\t") and line.endswith(",") for line in lines[1:-2])
    assert lines[-2].startswith("\t") and not lines[-2].endswith(",")
    assert node_string("h", 9092, 0, None) == "h:9092 (id: 0 rack: null)"
    assert node_string("h", 9092, 1, "r1") == "h:9092 (id: 1 rack: r1)"


def test_missing_bootstrap_server():
    result = CliRunner().invoke(main, [], prog_name="kafka-broker-api-versions.sh")
    assert result.exit_code == 2
    assert 'Missing required argument "[bootstrap-server]"' in result.output
