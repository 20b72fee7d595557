"""One broker with many partitions: created, written, SIGKILLed and restarted.

Every partition comes back with a leader and its records, the broker keeps only a bounded
number of files open (segments are opened on use, storage/descriptors.py) and the Metadata
for all topics lists them all. The normal suite runs 500 partitions; ``make bench-scale``
measures 10,000 (times are for the bench, nothing here is timed), and the ``slow`` variant
runs 3,000.
"""

from __future__ import annotations

import os

import pytest

from kafkalite.cli.bench_scale import _all_led, _topic_names, metadata, open_files
from kafkalite.testing.processes import wait_for

pytestmark = pytest.mark.zk


def _consume_one_each(bootstrap: str, topics: dict[str, int]) -> dict[tuple[str, int], bytes]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "many", "enable.auto.commit": False,
                  "log_level": int(os.environ.get("RDKAFKA_LOG_LEVEL", "0"))})
    c.assign([TopicPartition(t, p, 0) for t, n in topics.items() for p in range(n)])
    want = sum(topics.values())
    got: dict[tuple[str, int], bytes] = {}
    idle = 0
    while len(got) < want and idle < 30:
        msgs = c.consume(1000, timeout=1)
        idle = 0 if msgs else idle + 1
        for m in msgs:
            if m.error() is None:
                got[(m.topic(), m.partition())] = m.value()
    c.close()
    return got


@pytest.mark.parametrize("partitions", [
    500, pytest.param(3000, marks=pytest.mark.slow)])
def test_many_partitions_survive_sigkill(broker_factory, partitions):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    b = broker_factory(0)
    topics = _topic_names(partitions, 100)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()],
                                 operation_timeout=120).values():
        f.result(180)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20})
    for t, n in topics.items():
        for i in range(n):
            p.produce(t, f"{t}/{i}".encode(), partition=i)
    assert p.flush(120) == 0

    b.kill()
    b.start()
    names = set(topics)
    wait_for(lambda: _all_led(b, names, partitions), 180, "a leader for every partition")
    # far fewer descriptors than partitions: only what was used since the restart is open
    assert open_files(b.pid) < partitions // 2
    _, md = metadata(b)
    assert sum(len(t.partitions) for t in md.topics if t.name in names) == partitions
    got = _consume_one_each(b.bootstrap, topics)
    assert got == {(t, i): f"{t}/{i}".encode() for t, n in topics.items() for i in range(n)}
