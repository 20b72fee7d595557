"""Admin client against the in-memory broker."""

from __future__ import annotations

from kafkalite.errors import NotController, TopicAlreadyExists, UnknownTopicOrPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.client.admin import Admin, NewTopic
from kafkalite.client.cluster import Cluster


def test_create_list_describe_delete(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            admin = Admin(cluster)
            result = await admin.create_topics([NewTopic(name="a", num_partitions=3,
                                                         replication_factor=1),
                                                NewTopic(name="b", assignment={0: [0], 1: [0]})])
            assert result == {"a": None, "b": None}
            again = await admin.create_topics([NewTopic(name="a", num_partitions=1)])
            assert isinstance(again["a"], TopicAlreadyExists)
            assert str(again["a"]) == "Topic 'a' already exists."
            assert await admin.list_topics() == ["a", "b"]
            [a, missing] = await admin.describe_topics(["a", "zzz"])
            assert a.name == "a" and [p.partition for p in a.partitions] == [0, 1, 2]
            assert a.partitions[0].leader == 0 and a.error is None
            assert isinstance(missing.error, UnknownTopicOrPartition) and missing.partitions == ()
            deleted = await admin.delete_topics(["a", "nope"])
            assert deleted["a"] is None
            assert isinstance(deleted["nope"], UnknownTopicOrPartition)
            assert await admin.list_topics() == ["b"]

    run(main)
    [create] = kafka.sent(ApiKey.CREATE_TOPICS)[:1]
    assert create.topics[1].assignments[1].broker_ids == (0,)
    assert create.topics[1].num_partitions == -1


def test_create_retries_on_not_controller(kafka, run):
    kafka.create_errors.extend([NotController.code, NotController.code])

    async def main():
        async with Cluster("fake:9092") as cluster:
            result = await Admin(cluster).create_topics([NewTopic(name="x", num_partitions=1)])
            assert result == {"x": None}

    run(main)
    assert len(kafka.sent(ApiKey.CREATE_TOPICS)) == 3


def test_list_topics_hides_internal_topics_unless_asked(kafka, run):
    kafka.create_topic("__consumer_offsets", 1)
    kafka.create_topic("t", 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            admin = Admin(cluster)
            assert await admin.list_topics() == ["t"]
            assert await admin.list_topics(include_internal=True) == ["__consumer_offsets", "t"]

    run(main)


def test_validate_only_creates_nothing(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            admin = Admin(cluster)
            result = await admin.create_topics([NewTopic(name="v")], validate_only=True)
            assert result == {"v": None}
            assert await admin.list_topics() == []

    run(main)


def test_configs_are_sent():
    creatable = NewTopic(name="c", num_partitions=2, replication_factor=1,
                         configs={"retention.ms": "1000"}).to_creatable()
    assert [(c.name, c.value) for c in creatable.configs] == [("retention.ms", "1000")]


def test_empty_requests_send_nothing(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            admin = Admin(cluster)
            assert await admin.create_topics([]) == {}
            assert await admin.delete_topics([]) == {}

    run(main)
    assert kafka.requests == []
