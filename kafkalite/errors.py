"""The one registry of Kafka error codes.

Every Kafka error is a subclass of :class:`KafkaError` registered under its wire code with
:func:`kafka_error`. Code that decides a per-partition or per-request error returns the class
(or raises an instance); the server turns it into ``error_code`` at one boundary
(``server/dispatch.py`` and the per-partition result builders). Unknown codes received from a
peer map to a dynamic subclass of :class:`UnknownServerError` so the number is never lost.

Errors that are *not* Kafka error codes (a peer sending garbage, an internal bug) are not here:
:class:`ProtocolViolation` closes the offending connection, anything else propagates.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "KafkaError",
    "ProtocolViolation",
    "ConfigError",
    "kafka_error",
    "for_code",
    "ERRORS",
]


class KafkaError(Exception):
    """Base class of every error that has a Kafka wire code."""

    code: ClassVar[int] = -1
    retriable: ClassVar[bool] = False
    invalid_metadata: ClassVar[bool] = False

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message())
        self.message = message

    @classmethod
    def default_message(cls) -> str:
        return (cls.__doc__ or cls.__name__).strip().splitlines()[0]

    @classmethod
    def kafka_name(cls) -> str:
        """UPPER_SNAKE name as Kafka's Errors.java spells it."""
        out = []
        for i, ch in enumerate(cls.__name__):
            if ch.isupper() and i and not cls.__name__[i - 1].isupper():
                out.append("_")
            out.append(ch.upper())
        return "".join(out)


class ProtocolViolation(Exception):
    """The peer broke the framing or encoding rules: close its connection, answer nothing."""


class ConfigError(ValueError):
    """A configuration value or a command-line argument is invalid."""


ERRORS: dict[int, type[KafkaError]] = {}


def kafka_error(code: int, *, retriable: bool = False, invalid_metadata: bool = False):
    """Register a KafkaError subclass under ``code``."""

    def register(cls: type[KafkaError]) -> type[KafkaError]:
        if code in ERRORS:
            raise RuntimeError(f"error code {code} registered twice")
        cls.code = code
        cls.retriable = retriable
        cls.invalid_metadata = invalid_metadata
        ERRORS[code] = cls
        return cls

    return register


def for_code(code: int) -> type[KafkaError] | None:
    """The error class of a wire code; None for 0; a new UnknownServerError subclass if unknown."""
    if code == 0:
        return None
    cls = ERRORS.get(code)
    if cls is None:
        cls = type(f"UnknownServerError{code}", (UnknownServerError,), {"code": code,
                   "__doc__": f"Unknown error code {code} from a peer."})
    return cls


@kafka_error(-1)
class UnknownServerError(KafkaError):
    """The server experienced an unexpected error when processing the request."""


@kafka_error(1)
class OffsetOutOfRange(KafkaError):
    """The requested offset is not within the range of offsets maintained by the server."""


@kafka_error(2, retriable=True)
class CorruptMessage(KafkaError):
    """The message contents does not match the message CRC or the message is otherwise corrupt."""


@kafka_error(3, retriable=True, invalid_metadata=True)
class UnknownTopicOrPartition(KafkaError):
    """This server does not host this topic-partition."""


@kafka_error(4)
class InvalidFetchSize(KafkaError):
    """The requested fetch size is invalid."""


@kafka_error(5, retriable=True, invalid_metadata=True)
class LeaderNotAvailable(KafkaError):
    """There is no leader for this topic-partition as we are in the middle of a leadership election."""


@kafka_error(6, retriable=True, invalid_metadata=True)
class NotLeaderOrFollower(KafkaError):
    """This server is not the leader (or a follower) for that topic-partition."""


@kafka_error(7, retriable=True)
class RequestTimedOut(KafkaError):
    """The request timed out."""


@kafka_error(8)
class BrokerNotAvailable(KafkaError):
    """The broker is not available."""


@kafka_error(9, retriable=True)
class ReplicaNotAvailable(KafkaError):
    """The replica is not available for the requested topic-partition."""


@kafka_error(10)
class MessageTooLarge(KafkaError):
    """The request included a message larger than the max message size the server will accept."""


@kafka_error(11)
class StaleControllerEpoch(KafkaError):
    """The controller moved to another broker."""


@kafka_error(12)
class OffsetMetadataTooLarge(KafkaError):
    """The metadata field of the offset request was too large."""


@kafka_error(13, retriable=True)
class NetworkException(KafkaError):
    """The server disconnected before a response was received."""


@kafka_error(14, retriable=True)
class CoordinatorLoadInProgress(KafkaError):
    """The coordinator is loading and hence can't process requests."""


@kafka_error(15, retriable=True)
class CoordinatorNotAvailable(KafkaError):
    """The coordinator is not available."""


@kafka_error(16, retriable=True)
class NotCoordinator(KafkaError):
    """This is not the correct coordinator."""


@kafka_error(17)
class InvalidTopicException(KafkaError):
    """The request attempted to perform an operation on an invalid topic."""


@kafka_error(18)
class RecordListTooLarge(KafkaError):
    """The request included message batch larger than the configured segment size on the server."""


@kafka_error(19, retriable=True)
class NotEnoughReplicas(KafkaError):
    """Messages are rejected since there are fewer in-sync replicas than required."""


@kafka_error(20, retriable=True)
class NotEnoughReplicasAfterAppend(KafkaError):
    """Messages are written to the log, but to fewer in-sync replicas than required."""


@kafka_error(21)
class InvalidRequiredAcks(KafkaError):
    """Produce request specified an invalid value for required acks."""


@kafka_error(22)
class IllegalGeneration(KafkaError):
    """Specified group generation id is not valid."""


@kafka_error(23)
class InconsistentGroupProtocol(KafkaError):
    """The group member's supported protocols are incompatible with those of existing members."""


@kafka_error(24)
class InvalidGroupId(KafkaError):
    """The configured groupId is invalid."""


@kafka_error(25)
class UnknownMemberId(KafkaError):
    """The coordinator is not aware of this member."""


@kafka_error(26)
class InvalidSessionTimeout(KafkaError):
    """The session timeout is not within the range allowed by the broker."""


@kafka_error(27)
class RebalanceInProgress(KafkaError):
    """The group is rebalancing, so a rejoin is needed."""


@kafka_error(28)
class InvalidCommitOffsetSize(KafkaError):
    """The committing offset data size is not valid."""


@kafka_error(29)
class TopicAuthorizationFailed(KafkaError):
    """Topic authorization failed."""


@kafka_error(30)
class GroupAuthorizationFailed(KafkaError):
    """Group authorization failed."""


@kafka_error(31)
class ClusterAuthorizationFailed(KafkaError):
    """Cluster authorization failed."""


@kafka_error(32)
class InvalidTimestamp(KafkaError):
    """The timestamp of the message is out of acceptable range."""


@kafka_error(33)
class UnsupportedSaslMechanism(KafkaError):
    """The broker does not support the requested SASL mechanism."""


@kafka_error(34)
class IllegalSaslState(KafkaError):
    """Request is not valid given the current SASL state."""


@kafka_error(35)
class UnsupportedVersion(KafkaError):
    """The version of API is not supported."""


@kafka_error(36)
class TopicAlreadyExists(KafkaError):
    """Topic with this name already exists."""


@kafka_error(37)
class InvalidPartitions(KafkaError):
    """Number of partitions is below 1."""


@kafka_error(38)
class InvalidReplicationFactor(KafkaError):
    """Replication factor is below 1 or larger than the number of available brokers."""


@kafka_error(39)
class InvalidReplicaAssignment(KafkaError):
    """Replica assignment is invalid."""


@kafka_error(40)
class InvalidConfig(KafkaError):
    """Configuration is invalid."""


@kafka_error(41, retriable=True)
class NotController(KafkaError):
    """This is not the correct controller for this cluster."""


@kafka_error(42)
class InvalidRequest(KafkaError):
    """This most likely occurs because of a request being malformed by the client library."""


@kafka_error(43)
class UnsupportedForMessageFormat(KafkaError):
    """The message format version on the broker does not support the request."""


@kafka_error(44)
class PolicyViolation(KafkaError):
    """Request parameters do not satisfy the configured policy."""


@kafka_error(45)
class OutOfOrderSequenceNumber(KafkaError):
    """The broker received an out of order sequence number."""


@kafka_error(46)
class DuplicateSequenceNumber(KafkaError):
    """The broker received a duplicate sequence number."""


@kafka_error(47)
class InvalidProducerEpoch(KafkaError):
    """Producer attempted to produce with an old epoch."""


@kafka_error(48)
class InvalidTxnState(KafkaError):
    """The producer attempted a transactional operation in an invalid state."""


@kafka_error(49)
class InvalidProducerIdMapping(KafkaError):
    """The producer attempted to use a producer id which is not currently assigned to its transactional id."""


@kafka_error(50)
class InvalidTransactionTimeout(KafkaError):
    """The transaction timeout is larger than the maximum value allowed by the broker."""


@kafka_error(51, retriable=True)
class ConcurrentTransactions(KafkaError):
    """The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing."""


@kafka_error(52)
class TransactionCoordinatorFenced(KafkaError):
    """Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer."""


@kafka_error(53)
class TransactionalIdAuthorizationFailed(KafkaError):
    """Transactional Id authorization failed."""


@kafka_error(54)
class SecurityDisabled(KafkaError):
    """Security features are disabled."""


@kafka_error(55)
class OperationNotAttempted(KafkaError):
    """The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest."""


@kafka_error(56, retriable=True)
class KafkaStorageError(KafkaError):
    """Disk error when trying to access log file on the disk."""


@kafka_error(58)
class SaslAuthenticationFailed(KafkaError):
    """SASL Authentication failed."""


@kafka_error(59)
class UnknownProducerId(KafkaError):
    """This exception is raised by the broker if it could not locate the producer metadata."""


@kafka_error(60)
class ReassignmentInProgress(KafkaError):
    """A partition reassignment is in progress."""


@kafka_error(65)
class DelegationTokenAuthorizationFailed(KafkaError):
    """Delegation Token authorization failed."""


@kafka_error(68)
class NonEmptyGroup(KafkaError):
    """The group is not empty."""


@kafka_error(69)
class GroupIdNotFound(KafkaError):
    """The group id does not exist."""


@kafka_error(70, retriable=True)
class FetchSessionIdNotFound(KafkaError):
    """The fetch session ID was not found."""


@kafka_error(71, retriable=True)
class InvalidFetchSessionEpoch(KafkaError):
    """The fetch session epoch is invalid."""


@kafka_error(72, retriable=True, invalid_metadata=True)
class ListenerNotFound(KafkaError):
    """There is no listener on the leader broker that matches the listener on which metadata request was processed."""


@kafka_error(73)
class TopicDeletionDisabled(KafkaError):
    """Topic deletion is disabled."""


@kafka_error(74, retriable=True, invalid_metadata=True)
class FencedLeaderEpoch(KafkaError):
    """The leader epoch in the request is older than the epoch on the broker."""


@kafka_error(75, retriable=True, invalid_metadata=True)
class UnknownLeaderEpoch(KafkaError):
    """The leader epoch in the request is newer than the epoch on the broker."""


@kafka_error(76)
class UnsupportedCompressionType(KafkaError):
    """The requesting client does not support the compression type of given partition."""


@kafka_error(77)
class StaleBrokerEpoch(KafkaError):
    """Broker epoch has changed."""


@kafka_error(78, retriable=True)
class OffsetNotAvailable(KafkaError):
    """The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing."""


@kafka_error(79)
class MemberIdRequired(KafkaError):
    """The group member needs to have a valid member id before actually entering a consumer group."""


@kafka_error(80, retriable=True)
class PreferredLeaderNotAvailable(KafkaError):
    """The preferred leader was not available."""


@kafka_error(81)
class GroupMaxSizeReached(KafkaError):
    """The consumer group has reached its max size."""


@kafka_error(82)
class FencedInstanceId(KafkaError):
    """The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id."""


@kafka_error(83, retriable=True)
class EligibleLeadersNotAvailable(KafkaError):
    """Eligible topic partition leaders are not available."""


@kafka_error(84)
class ElectionNotNeeded(KafkaError):
    """Leader election not needed for topic partition."""


@kafka_error(85)
class NoReassignmentInProgress(KafkaError):
    """No partition reassignment is in progress."""


@kafka_error(86)
class GroupSubscribedToTopic(KafkaError):
    """Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it."""


@kafka_error(87)
class InvalidRecord(KafkaError):
    """This record has failed the validation on broker and hence will be rejected."""


@kafka_error(88, retriable=True)
class UnstableOffsetCommit(KafkaError):
    """There are unstable offsets that need to be cleared."""


@kafka_error(89, retriable=True)
class ThrottlingQuotaExceeded(KafkaError):
    """The throttling quota has been exceeded."""


@kafka_error(90)
class ProducerFenced(KafkaError):
    """There is a newer producer with the same transactionalId which fences the current one."""


@kafka_error(91)
class ResourceNotFound(KafkaError):
    """A request illegally referred to a resource that does not exist."""


@kafka_error(92)
class DuplicateResource(KafkaError):
    """A request illegally referred to the same resource twice."""


@kafka_error(93)
class UnacceptableCredential(KafkaError):
    """Requested credential would not meet criteria for acceptability."""


@kafka_error(100, retriable=True)
class UnknownTopicId(KafkaError):
    """This server does not host this topic ID."""


@kafka_error(105)
class TransactionalIdNotFound(KafkaError):
    """The transactionalId could not be found."""
