"""The admin client: create, delete, list and describe topics over the Kafka protocol.

CreateTopics and DeleteTopics must go to the controller (wire-protocol.md §10); any other broker
answers NOT_CONTROLLER (41). The controller can move between our Metadata request and the admin
request, so each call is retried (``Cluster.call_with_retries``) after a metadata refresh when
the answer is NOT_CONTROLLER or the connection fails. Per-topic errors are results, not
exceptions — ``create_topics`` returns ``{name: None | KafkaError}`` like the Java AdminClient's
per-topic futures, so a tool can report TOPIC_ALREADY_EXISTS for one topic and still create the
others. Listing and describing read Metadata v1+ from any broker, without auto-creation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from kafkalite.errors import KafkaError, NotController, UnknownTopicOrPartition
from kafkalite.protocol.messages.create_topics import (
    CreatableReplicaAssignment,
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_topics import DeleteTopicsRequest
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsRequest,
    DescribeConfigsResource,
)
from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kafkalite.client.cluster import Cluster
from kafkalite.client.errors import error_for
from kafkalite.client.metadata import PartitionMetadata, TopicMetadata, metadata_from_response

__all__ = ["Admin", "NewTopic", "TopicDescription"]

_TOPIC_RESOURCE = 2  # DescribeConfigs resource type
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs v1+ config_source of a per-topic override


@attrs.frozen(kw_only=True)
class NewTopic:
    """A topic to create.

    ``num_partitions``/``replication_factor`` of -1 mean "broker default" (CreateTopics v4+).
    ``assignment`` maps partition -> replica broker ids and excludes both counts (Kafka's
    ``--replica-assignment``).
    """

    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    configs: Mapping[str, str | None] = attrs.field(factory=dict)
    assignment: Mapping[int, Sequence[int]] | None = None

    def to_creatable(self) -> CreatableTopic:
        """The CreateTopics request entry."""
        if self.assignment:
            return CreatableTopic(
                name=self.name, num_partitions=-1, replication_factor=-1,
                assignments=tuple(CreatableReplicaAssignment(partition_index=p,
                                                             broker_ids=tuple(brokers))
                                  for p, brokers in sorted(self.assignment.items())),
                configs=self._configs())
        return CreatableTopic(name=self.name, num_partitions=self.num_partitions,
                              replication_factor=self.replication_factor,
                              configs=self._configs())

    def _configs(self) -> tuple[CreatableTopicConfig, ...]:
        return tuple(CreatableTopicConfig(name=k, value=v) for k, v in self.configs.items())


@attrs.frozen(kw_only=True)
class TopicDescription:
    """What ``kafka-topics --describe`` shows for one topic.

    ``partitions`` are sorted by index; ``configs`` holds the topic's overrides (empty when the
    broker does not offer DescribeConfigs); ``error`` is set (and ``partitions`` empty) for a
    topic the broker does not know.
    """

    name: str
    partitions: tuple[PartitionMetadata, ...] = ()
    configs: Mapping[str, str] = attrs.field(factory=dict)
    topic_id: str | None = None
    is_internal: bool = False
    error: KafkaError | None = None


class Admin:
    """Topic administration through ``cluster``.

    Args:
        cluster: metadata, connections and retry policy (not closed by the admin client).
    """

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    async def create_topics(self, new_topics: Iterable[NewTopic], timeout_ms: int = 30_000,
                            validate_only: bool = False) -> dict[str, KafkaError | None]:
        """Create topics on the controller.

        Args:
            new_topics: what to create.
            timeout_ms: how long the controller may wait for the topics to be ready.
            validate_only: check only (CreateTopics v1+).

        Returns:
            Topic name -> None (created) or the error instance (e.g. TopicAlreadyExists,
            InvalidReplicationFactor), with the broker's error message when it sent one.

        Raises:
            KafkaTimeoutError: no controller answered within the retry budget.
            ConnectionFailed: no broker reachable at all.
        """
        topics = list(new_topics)
        if not topics:
            return {}
        request = CreateTopicsRequest(topics=tuple(t.to_creatable() for t in topics),
                                      timeout_ms=timeout_ms, validate_only=validate_only)

        async def attempt():
            connection = await self.cluster.controller()
            response = await self.cluster.request(connection, request)
            results = {r.name: (r.error_code, r.error_message) for r in response.topics}
            _raise_if_not_controller(results)
            return results

        results = await self.cluster.call_with_retries(attempt, what="create topics")
        return {t.name: _result(results.get(t.name), f"topic {t.name}") for t in topics}

    async def delete_topics(self, names: Iterable[str],
                            timeout_ms: int = 30_000) -> dict[str, KafkaError | None]:
        """Delete topics on the controller; returns name -> None or the error instance.

        Raises:
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        request = DeleteTopicsRequest(topic_names=tuple(wanted), timeout_ms=timeout_ms)

        async def attempt():
            connection = await self.cluster.controller()
            response = await self.cluster.request(connection, request)
            results = {r.name: (r.error_code, r.error_message) for r in response.responses}
            _raise_if_not_controller(results)
            return results

        results = await self.cluster.call_with_retries(attempt, what="delete topics")
        for name in wanted:
            self.cluster.forget_topic(name)
        return {name: _result(results.get(name), f"topic {name}") for name in wanted}

    async def list_topics(self, include_internal: bool = False) -> list[str]:
        """Sorted names of all topics (internal ones only when asked)."""
        metadata = await self._metadata(None)
        return sorted(name for name, t in metadata.items()
                      if include_internal or not t.is_internal)

    async def describe_topics(self, names: Iterable[str] | None = None, *,
                              include_internal: bool = True,
                              include_configs: bool = True) -> list[TopicDescription]:
        """Describe ``names`` (None = every topic) without creating anything.

        Returns:
            One :class:`TopicDescription` per topic, sorted by name. A topic that does not exist
            is described with ``error`` UnknownTopicOrPartition, so callers can report it.
        """
        metadata = await self._metadata(None if names is None else list(names))
        wanted = [n for n in sorted(metadata) if include_internal or not metadata[n].is_internal]
        configs: dict[str, dict[str, str]] = {}
        if include_configs:
            existing = [n for n in wanted if metadata[n].error_code == 0]
            configs = await self.describe_topic_configs(existing)
        out = []
        for name in wanted:
            t = metadata[name]
            out.append(TopicDescription(
                name=name,
                partitions=tuple(t.partitions[p] for p in t.partition_ids()),
                configs=configs.get(name, {}),
                is_internal=t.is_internal,
                error=error_for(t.error_code, f"topic {name}")))
        return out

    async def describe_topic_configs(self, names: Iterable[str]) -> dict[str, dict[str, str]]:
        """Per-topic config overrides (DescribeConfigs); {} when the broker lacks the API.

        Only values set on the topic itself are returned (config source DYNAMIC_TOPIC_CONFIG in
        v1+, ``is_default`` false in v0), which is what ``kafka-topics --describe`` prints.
        """
        wanted = list(names)
        if not wanted:
            return {}
        connection = await self.cluster.any_connection()
        if ApiKey.DESCRIBE_CONFIGS not in connection.api_versions:
            return {}
        request = DescribeConfigsRequest(resources=tuple(
            DescribeConfigsResource(resource_type=_TOPIC_RESOURCE, resource_name=n,
                                    configuration_keys=None) for n in wanted))

        async def attempt():
            return await self.cluster.request(None, request)

        response = await self.cluster.call_with_retries(attempt, what="describe configs")
        out: dict[str, dict[str, str]] = {}
        for result in response.results:
            if result.error_code:
                continue
            out[result.resource_name] = {
                c.name: c.value for c in result.configs
                if c.value is not None and not c.is_sensitive
                and (c.config_source == _DYNAMIC_TOPIC_CONFIG
                     or (c.config_source == -1 and not c.is_default))}
        return out

    async def _metadata(self, names: list[str] | None) -> dict[str, TopicMetadata]:
        request = MetadataRequest(
            topics=None if names is None else tuple(MetadataRequestTopic(name=n) for n in names),
            allow_auto_topic_creation=False)

        async def attempt():
            return await self.cluster.request(None, request)

        response = await self.cluster.call_with_retries(attempt, what="describe topics")
        fresh = metadata_from_response(response)
        self.cluster.apply_metadata(fresh, requested=names)
        topics = dict(fresh.topics)
        for name in names or ():
            if name not in topics:
                topics[name] = TopicMetadata(name=name, error_code=UnknownTopicOrPartition.code)
        return topics


def _raise_if_not_controller(results: Mapping[str, tuple[int, str | None]]) -> None:
    if any(code == NotController.code for code, _ in results.values()):
        raise NotController("the broker asked is not the controller")


def _result(entry: tuple[int, str | None] | None, context: str) -> KafkaError | None:
    if entry is None:
        return UnknownTopicOrPartition(f"{context}: no result in the controller's response")
    code, message = entry
    if message:
        return error_for(code, "", message)  # the broker's message already names the topic
    return error_for(code, context)
