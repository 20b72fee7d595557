"""kafkalite: a Kafka-compatible broker with the classic ZooKeeper architecture."""

__version__ = "0.1.0"
