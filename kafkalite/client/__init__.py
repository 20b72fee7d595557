"""kafkalite's trio-native Kafka client (layer L5: protocol, records, compression, errors, model).

Modules: ``connection`` (one negotiated broker connection), ``cluster`` (bootstrap, metadata,
connection pool, retries), ``metadata`` (pure metadata snapshot and parsing), ``partitioners``
(Java-compatible murmur2), ``accumulator`` (pure producer batching), ``producer``,
``completed_fetch`` (pure fetch decoding), ``consumer``, ``admin``, ``errors``.

Typical use::

    async with Cluster("localhost:9092") as cluster:
        async with Producer(cluster, acks=-1) as producer:
            await producer.send("t", b"value", key=b"k")
        consumer = Consumer(cluster)
        consumer.assign([("t", 0, "earliest")])
        records = await consumer.poll(timeout_ms=1000)
"""

from kafkalite.client.admin import Admin, NewTopic, TopicDescription
from kafkalite.client.cluster import Cluster
from kafkalite.client.completed_fetch import ConsumerRecord
from kafkalite.client.connection import BrokerConnection
from kafkalite.client.consumer import Consumer
from kafkalite.client.errors import ClientError, ConnectionFailed, KafkaTimeoutError
from kafkalite.client.metadata import ClusterMetadata, PartitionMetadata, TopicMetadata
from kafkalite.client.partitioners import default_partition, murmur2
from kafkalite.client.producer import DeliveryHandle, Producer, RecordMetadata

__all__ = [
    "Admin",
    "NewTopic",
    "TopicDescription",
    "Cluster",
    "ClusterMetadata",
    "TopicMetadata",
    "PartitionMetadata",
    "BrokerConnection",
    "Consumer",
    "ConsumerRecord",
    "Producer",
    "RecordMetadata",
    "DeliveryHandle",
    "ClientError",
    "ConnectionFailed",
    "KafkaTimeoutError",
    "default_partition",
    "murmur2",
]
