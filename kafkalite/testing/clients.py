"""Helpers for driving real Kafka clients from tests."""

from __future__ import annotations


def create_topic(bootstrap: str, name: str, partitions: int = 1, replication_factor: int = 1,
                 timeout: float = 60, **configs: str) -> None:
    """Create a topic with librdkafka's AdminClient and wait for the result.

    The AdminClient must outlive the future (librdkafka fails pending requests with
    _DESTROY when the handle is collected), hence this helper.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, replication_factor,
                                            config=dict(configs))], operation_timeout=timeout)
    futures[name].result(timeout=timeout)
    del admin
