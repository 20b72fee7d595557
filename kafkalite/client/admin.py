"""The admin client: create, delete, list and describe topics over the Kafka protocol.

CreateTopics and DeleteTopics must go to the controller (wire-protocol.md §10); any other broker
answers NOT_CONTROLLER (41). The controller can move between our Metadata request and the admin
request, so each call is retried (``Cluster.call_with_retries``) after a metadata refresh when
the answer is NOT_CONTROLLER or the connection fails. Per-topic errors are results, not
exceptions — ``create_topics`` returns ``{name: None | KafkaError}`` like the Java AdminClient's
per-topic futures, so a tool can report TOPIC_ALREADY_EXISTS for one topic and still create the
others. Listing and describing read Metadata v1+ from any broker, without auto-creation.

The exactly-once calls (list/describe transactions, describe producers, abort a transaction)
ask coordinators and partition leaders rather than the controller; they live in
``transactions_admin.py`` and :class:`Admin` delegates to it.

SCRAM credentials (KIP-554): AlterUserScramCredentials goes to the controller and carries the
salted password (salted here with a random salt, so the password never leaves the client);
DescribeUserScramCredentials goes to any broker. Both answer per user, like the Java client's
per-user futures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import attrs

from kafkalite.errors import (KafkaError, NotController, UnacceptableCredential,
                              UnknownServerError, UnknownTopicOrPartition,
                              UnsupportedSaslMechanism, UnsupportedVersion)
from kafkalite.model import TopicPartition
from kafkalite.protocol.messages.create_topics import (
    CreatableReplicaAssignment,
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_topics import DeleteTopicsRequest
from kafkalite.protocol.messages.create_partitions import (
    CreatePartitionsAssignment,
    CreatePartitionsRequest,
    CreatePartitionsTopic,
)
from kafkalite.protocol.messages.elect_leaders import ElectLeadersRequest, TopicPartitions
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsRequest,
    DescribeConfigsResource,
)
from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kafkalite.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    ReassignablePartition,
    ReassignableTopic,
)
from kafkalite.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsTopics,
)
from kafkalite.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    ScramCredentialDeletion,
    ScramCredentialUpsertion,
)
from kafkalite.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest,
    UserName,
)
from kafkalite.security.scram import ScramMechanism, salted_password
from kafkalite.client.cluster import Cluster
from kafkalite.client.errors import error_for
from kafkalite.client.metadata import PartitionMetadata, TopicMetadata, metadata_from_response
from kafkalite.client.transactions_admin import (
    ProducerState,
    TransactionDescription,
    TransactionListing,
    TransactionsAdmin,
)

__all__ = ["Admin", "NewTopic", "TopicDescription", "PartitionReassignment", "NewPartitions",
           "ELECTION_PREFERRED", "ELECTION_UNCLEAN", "ScramCredentialInfo",
           "UserScramCredentialUpsertion", "UserScramCredentialDeletion"]

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


#: ElectLeaders election types (Kafka's ElectionType).
ELECTION_PREFERRED = 0
ELECTION_UNCLEAN = 1


@attrs.frozen(kw_only=True)
class NewPartitions:
    """Grow a topic to ``total_count`` partitions (Java's ``NewPartitions.increaseTo``).

    ``assignments`` lists the replicas of each *new* partition in order (first replica =
    preferred leader); None lets the controller place them.
    """

    total_count: int
    assignments: Sequence[Sequence[int]] | None = None

    def to_topic(self, name: str) -> CreatePartitionsTopic:
        """The CreatePartitions request entry."""
        return CreatePartitionsTopic(
            name=name, count=self.total_count,
            assignments=None if self.assignments is None else tuple(
                CreatePartitionsAssignment(broker_ids=tuple(r)) for r in self.assignments))


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


@attrs.frozen(kw_only=True)
class PartitionReassignment:
    """One reassignment in progress (ListPartitionReassignments, KIP-455).

    ``replicas`` is the full current set — the target replicas, then the original ones still
    to be removed; ``adding`` and ``removing`` are the two differences.
    """

    replicas: tuple[int, ...]
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()


@attrs.frozen
class ScramCredentialInfo:
    """One of a user's SCRAM credentials as DescribeUserScramCredentials reports it."""

    mechanism: str   # "SCRAM-SHA-256", "SCRAM-SHA-512" or "UNKNOWN"
    iterations: int


@attrs.frozen(kw_only=True)
class UserScramCredentialUpsertion:
    """Add or replace ``user``'s credential for ``mechanism``. ``salt`` None: a random one."""

    user: str
    mechanism: str
    password: str = attrs.field(repr=False)
    iterations: int = 4096
    salt: bytes | None = None


@attrs.frozen(kw_only=True)
class UserScramCredentialDeletion:
    """Remove ``user``'s credential for ``mechanism``."""

    user: str
    mechanism: str


_SALT_BYTES = 32


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

        results = await self._per_topic_on_controller(
            request, lambda r: r.topics, "create topics")
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

        results = await self._per_topic_on_controller(
            request, lambda r: r.responses, "delete topics")
        for name in wanted:
            self.cluster.forget_topic(name)
        return {name: _result(results.get(name), f"topic {name}") for name in wanted}

    async def create_partitions(self, new_partitions: Mapping[str, NewPartitions], *,
                                timeout_ms: int = 30_000, validate_only: bool = False
                                ) -> dict[str, KafkaError | None]:
        """Add partitions to existing topics on the controller (CreatePartitions).

        Args:
            new_partitions: topic name -> its new total and optional replica lists.
            timeout_ms: how long the controller may wait for the new partitions' leaders.
            validate_only: check only.

        Returns:
            Topic name -> None (done) or the error instance (InvalidPartitions,
            UnknownTopicOrPartition, InvalidReplicaAssignment, ...) with the broker's message.

        Raises:
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        if not new_partitions:
            return {}
        request = CreatePartitionsRequest(
            topics=tuple(p.to_topic(name) for name, p in new_partitions.items()),
            timeout_ms=timeout_ms, validate_only=validate_only)

        results = await self._per_topic_on_controller(
            request, lambda r: r.results, "create partitions")
        if not validate_only:
            for name in new_partitions:
                self.cluster.forget_topic(name)  # the cached partition count is stale now
        return {name: _result(results.get(name), f"topic {name}") for name in new_partitions}

    async def elect_leaders(self, election_type: int,
                            partitions: Iterable[TopicPartition] | None = None, *,
                            timeout_ms: int = 30_000) -> dict[TopicPartition, KafkaError | None]:
        """Run a preferred (0) or unclean (1) leader election on the controller (ElectLeaders).

        Args:
            election_type: :data:`ELECTION_PREFERRED` or :data:`ELECTION_UNCLEAN`.
            partitions: the partitions; None = every partition, and then those that needed
                no election are left out of the result (Kafka's rule).
            timeout_ms: how long the controller may wait for the new leaders to be known.

        Returns:
            Partition -> None (elected) or the error instance: ElectionNotNeeded,
            PreferredLeaderNotAvailable, EligibleLeadersNotAvailable, UnknownTopicOrPartition...

        Raises:
            UnsupportedVersion: an unclean election against a broker that only has v0.
            KafkaError: a top-level error (v1+), e.g. ClusterAuthorizationFailed.
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        wanted = None if partitions is None else list(dict.fromkeys(partitions))
        if wanted is not None and not wanted:
            return {}
        topics = None
        if wanted is not None:
            by_topic: dict[str, list[int]] = {}
            for tp in wanted:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            topics = tuple(TopicPartitions(topic=t, partitions=tuple(ps))
                           for t, ps in by_topic.items())
        request = ElectLeadersRequest(election_type=election_type, topic_partitions=topics,
                                      timeout_ms=timeout_ms)

        async def attempt():
            connection = await self.cluster.controller()
            version = connection.pick_version(ApiKey.ELECT_LEADERS)
            if version == 0 and election_type != ELECTION_PREFERRED:
                raise UnsupportedVersion("the broker supports only preferred leader election "
                                         "(ElectLeaders v0)")
            response = await self.cluster.request(connection, request, version)
            if version >= 1:
                _raise_top_level(response.error_code, None)
            results = {TopicPartition(r.topic, p.partition_id): (p.error_code, p.error_message)
                       for r in response.replica_election_results for p in r.partition_result}
            _raise_if_not_controller(results)
            return results

        results = await self.cluster.call_with_retries(attempt, what="elect leaders")
        keys = wanted if wanted is not None else sorted(
            results, key=lambda tp: (tp.topic, tp.partition))
        return {tp: _result(results.get(tp), f"partition {tp}") for tp in keys}

    async def _per_topic_on_controller(self, request, entries, what: str
                                       ) -> dict[str, tuple[int, str | None]]:
        """Send ``request`` to the controller (retried, also on NOT_CONTROLLER); topic name ->
        (error code, message) from the response's per-topic ``entries``."""
        async def attempt():
            connection = await self.cluster.controller()
            response = await self.cluster.request(connection, request)
            results = {r.name: (r.error_code, r.error_message) for r in entries(response)}
            _raise_if_not_controller(results)
            return results

        return await self.cluster.call_with_retries(attempt, what=what)

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

    async def alter_partition_reassignments(
            self, reassignments: Mapping[TopicPartition, Sequence[int] | None], *,
            timeout_ms: int = 60_000) -> dict[TopicPartition, KafkaError | None]:
        """Start (a replica list) or cancel (None) partition reassignments on the controller.

        The controller answers once each reassignment has started, not when it completes;
        :meth:`list_partition_reassignments` shows what is still moving.

        Returns:
            Partition -> None (started or cancelled) or the error instance, e.g.
            InvalidReplicaAssignment, UnknownTopicOrPartition, NoReassignmentInProgress.

        Raises:
            KafkaError: the request as a whole failed (a top-level error other than
                NOT_CONTROLLER, which is retried).
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        if not reassignments:
            return {}
        by_topic: dict[str, list[ReassignablePartition]] = {}
        for tp, replicas in reassignments.items():
            by_topic.setdefault(tp.topic, []).append(ReassignablePartition(
                partition_index=tp.partition,
                replicas=None if replicas is None else tuple(replicas)))
        request = AlterPartitionReassignmentsRequest(
            timeout_ms=timeout_ms,
            topics=tuple(ReassignableTopic(name=name, partitions=tuple(parts))
                         for name, parts in by_topic.items()))

        async def attempt():
            connection = await self.cluster.controller()
            response = await self.cluster.request(connection, request)
            _raise_top_level(response.error_code, response.error_message)
            return {TopicPartition(t.name, p.partition_index): (p.error_code, p.error_message)
                    for t in response.responses for p in t.partitions}

        results = await self.cluster.call_with_retries(attempt, what="alter partition "
                                                       "reassignments")
        return {tp: _result(results.get(tp), f"partition {tp}") for tp in reassignments}

    async def list_partition_reassignments(
            self, partitions: Iterable[TopicPartition] | None = None, *,
            timeout_ms: int = 60_000) -> dict[TopicPartition, PartitionReassignment]:
        """The reassignments in progress (None = all; else only those of ``partitions``).

        Partitions that are not being reassigned, or do not exist, are absent from the result.

        Raises:
            KafkaError: a top-level error other than NOT_CONTROLLER (which is retried).
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        topics = None
        if partitions is not None:
            by_topic: dict[str, list[int]] = {}
            for tp in partitions:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            topics = tuple(ListPartitionReassignmentsTopics(name=name,
                                                            partition_indexes=tuple(parts))
                           for name, parts in by_topic.items())
        request = ListPartitionReassignmentsRequest(timeout_ms=timeout_ms, topics=topics)

        async def attempt():
            connection = await self.cluster.controller()
            response = await self.cluster.request(connection, request)
            _raise_top_level(response.error_code, response.error_message)
            return response

        response = await self.cluster.call_with_retries(attempt, what="list partition "
                                                        "reassignments")
        return {TopicPartition(t.name, p.partition_index): PartitionReassignment(
                    replicas=tuple(p.replicas), adding=tuple(p.adding_replicas),
                    removing=tuple(p.removing_replicas))
                for t in response.topics for p in t.partitions}

    # --- SCRAM credentials (KIP-554) ------------------------------------------------------------

    async def alter_user_scram_credentials(
            self, alterations: Iterable[UserScramCredentialUpsertion
                                        | UserScramCredentialDeletion]
    ) -> dict[str, KafkaError | None]:
        """Add, replace or delete SCRAM credentials on the controller.

        As the Java client, a user with an empty name, an empty password or an unknown
        mechanism fails here (UnacceptableCredential / UnsupportedSaslMechanism) and none of
        its alterations are sent.

        Returns:
            User -> None (done) or the error instance (UnacceptableCredential "Too few
            iterations", ResourceNotFound for deleting a credential that does not exist,
            DuplicateResource, ...), with the broker's message.

        Raises:
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        alterations = list(alterations)
        failed: dict[str, KafkaError] = {}
        for a in alterations:
            if isinstance(a, UserScramCredentialDeletion) and a.user and \
                    ScramMechanism.for_name(a.mechanism) is None:
                failed[a.user] = UnsupportedSaslMechanism("Unknown SCRAM mechanism")
            if not a.user:
                failed[a.user] = UnacceptableCredential("Username must not be empty")
        upsertions, deletions = [], []
        for a in alterations:
            if a.user in failed:
                continue
            mechanism = ScramMechanism.for_name(a.mechanism)
            if isinstance(a, UserScramCredentialDeletion):
                deletions.append(ScramCredentialDeletion(name=a.user,
                                                         mechanism=mechanism.type_id))
            elif not a.password:
                failed[a.user] = UnacceptableCredential("Password must not be empty")
            elif mechanism is None:
                failed[a.user] = UnsupportedSaslMechanism("Unknown SCRAM mechanism")
            else:
                salt = a.salt if a.salt is not None else os.urandom(_SALT_BYTES)
                upsertions.append(ScramCredentialUpsertion(
                    name=a.user, mechanism=mechanism.type_id, iterations=a.iterations,
                    salt=salt, salted_password=salted_password(mechanism, a.password, salt,
                                                               a.iterations)))
        upsertions = [u for u in upsertions if u.name not in failed]
        deletions = [d for d in deletions if d.name not in failed]
        results: dict[str, tuple[int, str | None]] = {}
        if upsertions or deletions:
            request = AlterUserScramCredentialsRequest(deletions=tuple(deletions),
                                                       upsertions=tuple(upsertions))

            async def attempt():
                connection = await self.cluster.controller()
                response = await self.cluster.request(connection, request)
                answers = {r.user: (r.error_code, r.error_message) for r in response.results}
                _raise_if_not_controller(answers)
                return answers

            results = await self.cluster.call_with_retries(
                attempt, what="alter user SCRAM credentials")
        out: dict[str, KafkaError | None] = {}
        for a in alterations:
            if a.user in failed:
                out[a.user] = failed[a.user]
            elif a.user in results:
                code, message = results[a.user]
                out[a.user] = error_for(code, "", message)
            else:
                out[a.user] = UnknownServerError(
                    f"The broker response did not contain a result for user {a.user}")
        return out

    async def describe_user_scram_credentials(
            self, users: Iterable[str] | None = None
    ) -> dict[str, tuple[ScramCredentialInfo, ...] | KafkaError]:
        """Each user's SCRAM mechanisms and iteration counts (None or empty: every user that
        has one), or its error (ResourceNotFound for a user named that has no credential).

        Raises:
            KafkaError: a top-level error.
            KafkaTimeoutError, ConnectionFailed: as :meth:`create_topics`.
        """
        names = [u for u in users or () if u is not None]
        request = DescribeUserScramCredentialsRequest(
            users=tuple(UserName(name=u) for u in names))

        async def attempt():
            response = await self.cluster.request(None, request)
            _raise_top_level(response.error_code, response.error_message)
            return response

        response = await self.cluster.call_with_retries(
            attempt, what="describe user SCRAM credentials")
        out: dict[str, tuple[ScramCredentialInfo, ...] | KafkaError] = {}
        for r in response.results:
            error = error_for(r.error_code, "", r.error_message)
            if error is not None:
                out[r.user] = error
                continue
            infos = []
            for info in r.credential_infos:
                mechanism = ScramMechanism.for_type(info.mechanism)
                infos.append(ScramCredentialInfo(
                    mechanism.mechanism_name if mechanism else "UNKNOWN", info.iterations))
            out[r.user] = tuple(infos)
        return out

    # --- transactions (KIP-664): the calls live in transactions_admin.py ----------------------

    async def list_transactions(self, state_filters: Iterable[str] = (),
                                producer_id_filters: Iterable[int] = (), *,
                                duration_filter_ms: int = -1) -> list[TransactionListing]:
        """ListTransactions on every live broker, merged; see
        :meth:`TransactionsAdmin.list_transactions`."""
        return await TransactionsAdmin(self.cluster).list_transactions(
            state_filters, producer_id_filters, duration_filter_ms=duration_filter_ms)

    async def describe_transactions(self, transactional_ids: Iterable[str]
                                    ) -> dict[str, TransactionDescription | KafkaError]:
        """Each id's state from its transaction coordinator, or its error; see
        :meth:`TransactionsAdmin.describe_transactions`."""
        return await TransactionsAdmin(self.cluster).describe_transactions(transactional_ids)

    async def describe_producers(self, partitions: Iterable[TopicPartition], *,
                                 broker_id: int | None = None
                                 ) -> dict[TopicPartition, tuple[ProducerState, ...] | KafkaError]:
        """Each partition's active producers from its leader (or ``broker_id``), or its error;
        see :meth:`TransactionsAdmin.describe_producers`."""
        return await TransactionsAdmin(self.cluster).describe_producers(partitions,
                                                                        broker_id=broker_id)

    async def abort_transaction(self, topic_partition: TopicPartition, producer_id: int,
                                producer_epoch: int, coordinator_epoch: int) -> None:
        """Write an ABORT marker to the partition's leader (WriteTxnMarkers), raising the
        partition's error; see :meth:`TransactionsAdmin.abort_transaction`."""
        await TransactionsAdmin(self.cluster).abort_transaction(
            topic_partition, producer_id, producer_epoch, coordinator_epoch)

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


def _raise_if_not_controller(results: Mapping[object, tuple[int, str | None]]) -> None:
    if any(code == NotController.code for code, _ in results.values()):
        raise NotController("the broker asked is not the controller")


def _raise_top_level(code: int, message: str | None) -> None:
    """Raise a response's top-level error; NOT_CONTROLLER so that the call is retried."""
    if code == NotController.code:
        raise NotController("the broker asked is not the controller")
    error = error_for(code, "", message)
    if error is not None:
        raise error


def _result(entry: tuple[int, str | None] | None, context: str) -> KafkaError | None:
    if entry is None:
        return UnknownTopicOrPartition(f"{context}: no result in the controller's response")
    code, message = entry
    if message:
        return error_for(code, "", message)  # the broker's message already names the topic
    return error_for(code, context)
