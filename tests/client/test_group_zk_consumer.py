"""The pure parts of the legacy ZooKeeper consumer: ids, thread names, 0.8 range assignment.

The consumer itself needs a real ZooKeeper; integration/test_consumer_groups_tool.py runs it.
"""

from __future__ import annotations

import pytest

from kafkalite.model import TopicPartition as TP
from kafkalite.zk.znodes import ConsumerIdZNode, ConsumerRegistration
from kafkalite.client.zk_consumer import (
    ZookeeperConsumer,
    assign_threads,
    consumer_id_for,
    thread_ids,
)


def test_consumer_id_and_thread_ids_follow_kafka_0_8():
    cid = consumer_id_for("g", hostname="host1", now_ms=1700000000123,
                          token="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert cid == "g_host1-1700000000123-0f1e2d3c"
    assert thread_ids(cid, {"t": 2, "u": 1}) == {"t": [f"{cid}-0", f"{cid}-1"],
                                                 "u": [f"{cid}-0"]}


def test_range_over_sorted_thread_ids():
    # 0.8 RangeAssignor: 5 partitions, threads c1-0, c1-1, c2-0 -> 2, 2, 1
    threads = {"t": ["c2-0", "c1-1", "c1-0"]}
    out = assign_threads({"t": 5}, threads)
    assert out == {"c1-0": [TP("t", 0), TP("t", 1)], "c1-1": [TP("t", 2), TP("t", 3)],
                   "c2-0": [TP("t", 4)]}
    assert assign_threads({}, threads) == {"c2-0": [], "c1-1": [], "c1-0": []}


def test_registration_json_is_kafkas():
    data = ConsumerIdZNode.encode(ConsumerRegistration(subscription={"t": 1},
                                                       timestamp_ms=1700000000000))
    assert data == (b'{"version":1,"subscription":{"t":1},"pattern":"static",'
                    b'"timestamp":"1700000000000"}')


def test_settings_are_checked():
    with pytest.raises(ValueError, match="auto_offset_reset"):
        ZookeeperConsumer("localhost:2181", "g", auto_offset_reset="middle")
    with pytest.raises(ValueError, match="offsets_storage"):
        ZookeeperConsumer("localhost:2181", "g", offsets_storage="disk")
    consumer = ZookeeperConsumer("localhost:2181", "g", auto_offset_reset="smallest")
    assert consumer.auto_offset_reset == "earliest"
    assert consumer.consumer_id.startswith("g_")
    consumer.subscribe(["t"])
    with pytest.raises(ValueError):
        consumer.subscribe()
