"""An application's tests on a real cluster from kafkalite's pytest plugin (a sample project:
it runs outside kafkalite's own suite, with only the installed package)."""

import pytest
from confluent_kafka import Consumer, Producer


def consume(bootstrap, topic, count, group="app"):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    for _ in range(60):
        msg = consumer.poll(1)
        if msg is not None and not msg.error():
            values.append(msg.value())
        if len(values) >= count:
            break
    consumer.close()
    return values


def test_round_trip(kafka_bootstrap, kafka_topic):
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(kafka_topic, key=b"k", value=b"hello")
    producer.flush(10)
    assert consume(kafka_bootstrap, kafka_topic, 1) == [b"hello"]


def test_admin_lists_the_fresh_topic(kafka_admin, kafka_topic):
    assert kafka_topic in kafka_admin.list_topics()


@pytest.mark.kafka_brokers(3)
@pytest.mark.kafka_topic(partitions=1, replication_factor=3, config={"min.insync.replicas": "2"})
def test_writes_survive_a_broker_kill(kafka_cluster, kafka_bootstrap, kafka_topic):
    assert len(kafka_cluster.brokers) == 3
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    producer.produce(kafka_topic, value=b"before")
    assert producer.flush(30) == 0
    assert consume(kafka_bootstrap, kafka_topic, 1, group="kill") == [b"before"]
    leader = producer.list_topics(kafka_topic, timeout=10).topics[kafka_topic].partitions[0].leader
    kafka_cluster.kill(leader)
    producer.produce(kafka_topic, value=b"after")
    assert producer.flush(60) == 0
    # the group goes on from its committed offset, wherever its coordinator is now
    assert consume(kafka_bootstrap, kafka_topic, 1, group="kill") == [b"after"]
    kafka_cluster.restart(leader)
