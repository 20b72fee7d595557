"""Kafka's operations over ZooKeeper (KafkaZkClient + the ZooKeeper half of AdminZkClient).

Everything that reads or writes Kafka's znodes goes through here, so each algorithm of
``docs/zookeeper-layout.md`` §6 exists once:

* **Broker lifecycle** (§6.9): persistent paths, cluster id, broker registration whose czxid
  is the broker epoch, duplicate-id detection by ephemeral owner.
* **Controller election** (§6.1): one multi = create ``/controller`` (ephemeral) + bump
  ``/controller_epoch`` with CAS; recover the "it names us" case after a lost ack.
* **Fencing** (§6.2): every controller mutation is a multi starting with
  ``check(/controller_epoch, epoch_zk_version)``; failing that check raises
  :class:`ControllerMovedError` — the caller must resign. :meth:`KafkaZk.fenced_multi` is
  the general form for controller writes not covered by a named method.
* **Partition state CAS** (§6.5): controller updates are fenced; a leader's own ISR update is
  a plain CAS on the state znode's zkVersion with Kafka's lost-ack check.
* **Admin** (§6.8): topic creation writes ``/config/topics/<t>`` before ``/brokers/topics/<t>``,
  config changes post a sequential notification, deletion only leaves a marker.
* **ACLs** (§3.17): one znode per resource pattern, rewritten with a compare-and-set on its
  version (create when absent, delete when emptied), then a change notification that makes
  every broker re-read that pattern (Kafka's AclAuthorizer + ZkAclStore).

Reads of many znodes are pipelined (``ZkSession.get_many`` / ``multi_many``) because the
controller loads and rewrites thousands of partition states on failover.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from kafkalite.errors import (InvalidReplicaAssignment, InvalidTopicException,
                              TopicAlreadyExists, UnknownTopicOrPartition)
from kafkalite.model import BrokerInfo, TopicPartition, validate_topic_name
from kafkalite.security.acl import (AccessControlEntry, AclOperation, AclPermissionType,
                                    PatternType, ResourcePattern, ResourceType, from_enum_name,
                                    parse_pascal, parse_principal, pascal_name)
from kafkalite.security.authorizer import NO_ACLS, VersionedAcls, sort_entries
from kafkalite.zk.errors import (BadVersionError, BrokerIdInUse, ConnectionLossError,
                                 ControllerMovedError, NodeExistsError, NoNodeError, ZkError)
from kafkalite.zk.ops import CheckOp, CreateOp, DeleteOp, Op, SetDataOp
from kafkalite.zk.session import ZkSession
from kafkalite.zk.znodes import (PERSISTENT_PATHS, AclChangeNotificationZNode, AclZNode,
                                 BrokerIdsZNode, BrokerIdZNode,
                                 ExtendedAclChangeNotificationZNode, StoredAcl, acl_paths,
                                 BrokerSequenceIdZNode, ClusterIdZNode,
                                 ConfigEntityChangeNotificationZNode, ConfigEntityZNode,
                                 ConfigType, ConsumerOffsetZNode, ControllerEpochZNode,
                                 ControllerZNode, DeleteTopicsZNode, DeleteTopicZNode,
                                 IsrChangeNotificationZNode, LeaderIsrAndControllerEpoch,
                                 LogDirEventNotificationZNode,
                                 PreferredReplicaElectionZNode, ProducerIdBlockZNode,
                                 ReassignPartitionsZNode, TopicAssignment,
                                 TopicPartitionStateZNode, TopicPartitionsZNode,
                                 TopicPartitionZNode, TopicsZNode, TopicZNode)

__all__ = ["KafkaZk", "ControllerElection", "RESERVED_BROKER_MAX_ID", "ControllerMovedError",
           "BrokerIdInUse"]

RESERVED_BROKER_MAX_ID = 1000   # auto-generated broker ids start above this (§3.5)


@attrs.frozen
class ControllerElection:
    """We are controller with ``epoch``; fence every write with ``epoch_zk_version``."""

    epoch: int
    epoch_zk_version: int


def _state_writes(updates: Mapping[Any, tuple[LeaderIsrAndControllerEpoch, int]]
                  ) -> tuple[list[Any], dict[Any, SetDataOp], list[list[Any]]]:
    """The keys of ``updates[(topic, p)] = (state, expected zkVersion)``, a CAS write of each
    partition state by key, and the keys in chunks of ``STATE_WRITES_PER_MULTI`` (one multi
    each)."""
    keys = list(updates)
    ops = {key: SetDataOp(TopicPartitionStateZNode.path(*_tp(key)),
                          TopicPartitionStateZNode.encode(state), expected)
           for key, (state, expected) in updates.items()}
    chunks = [keys[i:i + STATE_WRITES_PER_MULTI]
              for i in range(0, len(keys), STATE_WRITES_PER_MULTI)]
    return keys, ops, chunks


def _tp(key: Any) -> tuple[str, int]:
    if isinstance(key, TopicPartition):
        return key.topic, key.partition
    topic, partition = key
    return topic, int(partition)


def _now_ms() -> int:
    return int(time.time() * 1000)


# Partition state writes per fenced multi (see update_partition_states): 200 writes of about
# 150 bytes each keep a request far below ZooKeeper's 1 MB jute.maxbuffer.
STATE_WRITES_PER_MULTI = 200


class KafkaZk:
    """Kafka's ZooKeeper operations over one :class:`ZkSession`."""

    def __init__(self, session: ZkSession):
        self.session = session

    # -- broker startup ----------------------------------------------------------------------

    async def create_persistent_paths(self) -> None:
        """Ensure the persistent top-level nodes of layout doc §1 exist."""
        for path in PERSISTENT_PATHS:
            await self.session.ensure_path(path)

    async def get_or_create_cluster_id(self, new_id: str) -> str:
        """The cluster id; ``new_id`` becomes it if this is the first broker ever."""
        try:
            await self.session.create(ClusterIdZNode.path(), ClusterIdZNode.encode(new_id),
                                      makepath=True)
            return new_id
        except NodeExistsError:
            data, _ = await self.session.get(ClusterIdZNode.path())
            return ClusterIdZNode.decode(data or b"")

    async def generate_broker_id(self, reserved_broker_max_id: int = RESERVED_BROKER_MAX_ID
                                 ) -> int:
        """Next auto broker id (``broker.id.generation.enable``, §3.5): bump
        ``/brokers/seqid``'s version and add ``reserved.broker.max.id`` (first id 1001)."""
        while True:
            try:
                stat = await self.session.set(BrokerSequenceIdZNode.path(), b"")
                return stat.version + reserved_broker_max_id
            except NoNodeError:
                await self.session.ensure_path(BrokerSequenceIdZNode.path())

    async def register_broker(self, info: BrokerInfo, *, now_ms: int | None = None) -> int:
        """Create ``/brokers/ids/<id>`` (ephemeral); returns its czxid = the broker epoch.

        Call again after every RECONNECTED_NEW_SESSION. A node left by *this* session
        (a retried create after connection loss) is accepted.

        Raises:
            BrokerIdInUse: the node belongs to another session (duplicate broker.id, or our
                previous session has not expired yet).
        """
        path = BrokerIdZNode.path(info.broker_id)
        data = BrokerIdZNode.encode(info, timestamp_ms=_now_ms() if now_ms is None else now_ms)
        while True:
            try:
                _, stat = await self.session.create_with_stat(path, data, ephemeral=True,
                                                              makepath=True)
                return stat.czxid
            except NodeExistsError:
                stat = await self.session.exists(path)
                if stat is None:
                    continue   # the other owner's session just ended: try again
                if stat.ephemeral_owner == self.session.session_id:
                    return stat.czxid
                raise BrokerIdInUse(
                    f"Error while creating ephemeral at {path}, node already exists and owner "
                    f"'{stat.ephemeral_owner}' does not match current session "
                    f"'{self.session.session_id}' (is another broker using "
                    f"broker.id={info.broker_id}?)") from None

    async def get_broker(self, broker_id: int) -> BrokerInfo | None:
        r = await self.session.get_or_none(BrokerIdZNode.path(broker_id))
        if r is None or not r[0]:
            return None
        return BrokerIdZNode.decode(r[0], broker_id, r[1].czxid)

    async def get_all_brokers(self) -> list[BrokerInfo]:
        """Registered brokers sorted by id, each with its czxid as ``broker_epoch``."""
        try:
            ids = sorted(int(c) for c in await self.session.get_children(BrokerIdsZNode.path()))
        except NoNodeError:
            return []
        got = await self.session.get_many([BrokerIdZNode.path(i) for i in ids])
        return [BrokerIdZNode.decode(r[0], i, r[1].czxid)
                for i, r in zip(ids, got) if r is not None and r[0]]

    # -- controller election -----------------------------------------------------------------

    @staticmethod
    def controller_id_of(data: bytes | None) -> int | None:
        """Broker id named by ``/controller`` data (e.g. from a data watch); None if empty."""
        return ControllerZNode.decode(data) if data else None

    async def get_controller_id(self) -> int | None:
        r = await self.session.get_or_none(ControllerZNode.path())
        return None if r is None or not r[0] else ControllerZNode.decode(r[0])

    async def get_controller_epoch(self) -> tuple[int, int] | None:
        """``(epoch, epoch_zk_version)`` or None if ``/controller_epoch`` does not exist."""
        r = await self.session.get_or_none(ControllerEpochZNode.path())
        return None if r is None else (ControllerEpochZNode.decode(r[0] or b"0"), r[1].version)

    async def try_elect_controller(self, broker_id: int, now_ms: int
                                   ) -> ControllerElection | None:
        """One election attempt (layout doc §6.1); None if another broker is controller."""
        current = await self.get_controller_epoch()
        if current is None:
            try:
                await self.session.create(ControllerEpochZNode.path(),
                                          ControllerEpochZNode.encode(0))
            except NodeExistsError:
                pass
            current = await self.get_controller_epoch()
            assert current is not None
        epoch, epoch_zk_version = current
        try:
            results = await self.session.multi([
                CreateOp(ControllerZNode.path(), ControllerZNode.encode(broker_id, now_ms),
                         ephemeral=True),
                SetDataOp(ControllerEpochZNode.path(), ControllerEpochZNode.encode(epoch + 1),
                          epoch_zk_version),
            ])
            return ControllerElection(epoch + 1, results[1].version)
        except (NodeExistsError, BadVersionError, ConnectionLossError):
            return await self._election_we_already_won(broker_id)

    async def _election_we_already_won(self, broker_id: int) -> ControllerElection | None:
        # /controller and the epoch bump are one multi, so if /controller is our session's
        # ephemeral the current epoch is the one we set (lost ack, or a repeated call).
        r = await self.session.get_or_none(ControllerZNode.path())
        if r is None or not r[0]:
            return None
        if (ControllerZNode.decode(r[0]) != broker_id
                or r[1].ephemeral_owner != self.session.session_id):
            return None
        current = await self.get_controller_epoch()
        return None if current is None else ControllerElection(*current)

    async def delete_controller(self, epoch_zk_version: int) -> None:
        """Resign by deleting ``/controller`` (fenced; gone already is fine)."""
        try:
            await self.fenced_multi([DeleteOp(ControllerZNode.path())], epoch_zk_version)
        except NoNodeError:
            pass

    # -- fenced controller writes ------------------------------------------------------------

    @staticmethod
    def _unfence(exc: ZkError) -> ZkError:
        if exc.op_index == 0:
            return ControllerMovedError(
                f"controller epoch zkVersion changed ({exc.name} on /controller_epoch): "
                "another broker is controller", path=ControllerEpochZNode.path())
        if exc.op_index is not None:
            exc.op_index -= 1
        return exc

    async def fenced_multi(self, ops: Sequence[Op], epoch_zk_version: int) -> list[Any]:
        """``multi([check(/controller_epoch, epoch_zk_version), *ops])``; results of ``ops``.

        Raises:
            ControllerMovedError: the check failed.
            ZkError: the first failing op of ``ops`` (``op_index`` relative to ``ops``).
        """
        check = CheckOp(ControllerEpochZNode.path(), epoch_zk_version)
        try:
            return (await self.session.multi([check, *ops]))[1:]
        except ZkError as exc:
            raise self._unfence(exc) from None

    async def _fenced_many(self, batches: Sequence[Sequence[Op]], epoch_zk_version: int
                           ) -> list[list[Any] | ZkError]:
        check = CheckOp(ControllerEpochZNode.path(), epoch_zk_version)
        out = await self.session.multi_many([[check, *ops] for ops in batches])
        results: list[list[Any] | ZkError] = []
        for r in out:
            if isinstance(r, ZkError):
                r = self._unfence(r)
                if isinstance(r, ControllerMovedError):
                    raise r
                results.append(r)
            else:
                results.append(r[1:])
        return results

    async def create_partition_states(self, topic: str,
                                      states: Mapping[int, LeaderIsrAndControllerEpoch],
                                      epoch_zk_version: int) -> dict[int, int | ZkError]:
        """Create ``.../partitions/<p>/state`` (with parents), fenced.

        Returns per partition the new zkVersion (0) or the ZkError (NodeExistsError: the state
        already exists; NoNodeError: the topic is gone).
        """
        got = await self.create_partition_states_many({topic: states}, epoch_zk_version)
        return got[topic]

    async def create_partition_states_many(
            self, states: Mapping[str, Mapping[int, LeaderIsrAndControllerEpoch]],
            epoch_zk_version: int) -> dict[str, dict[int, int | ZkError]]:
        """:meth:`create_partition_states` for several topics in three pipelined rounds
        (``partitions``, ``partitions/<p>``, ``partitions/<p>/state``), whatever their number;
        per topic, per partition the new zkVersion (0) or the ZkError."""
        topics = sorted(states)
        out: dict[str, dict[int, int | ZkError]] = {}
        for topic, r in zip(topics, await self._fenced_many(
                [[CreateOp(TopicPartitionsZNode.path(t))] for t in topics], epoch_zk_version)):
            if isinstance(r, ZkError) and not isinstance(r, NodeExistsError):
                out[topic] = {p: r for p in states[topic]}
        keys = [(t, p) for t in topics if t not in out for p in sorted(states[t])]
        await self._fenced_many([[CreateOp(TopicPartitionZNode.path(t, p))] for t, p in keys],
                                epoch_zk_version)
        created = await self._fenced_many(
            [[CreateOp(TopicPartitionStateZNode.path(t, p),
                       TopicPartitionStateZNode.encode(states[t][p]))] for t, p in keys],
            epoch_zk_version)
        for (t, p), r in zip(keys, created):
            out.setdefault(t, {})[p] = r if isinstance(r, ZkError) else 0
        return out

    async def update_partition_states(
            self, updates: Mapping[Any, tuple[LeaderIsrAndControllerEpoch, int]],
            epoch_zk_version: int) -> dict[Any, int | ZkError]:
        """CAS-write partition states, fenced. ``updates[(topic, p)] = (state, expected_zk_version)``.

        Returns per key the new zkVersion or the ZkError (BadVersionError: re-read and retry
        that partition; NoNodeError: no state). Raises ControllerMovedError.
        """
        # Up to STATE_WRITES_PER_MULTI writes share one fenced multi: a failover elects
        # thousands of partitions, and one request (and one ZooKeeper transaction) per
        # partition cost seconds of round trips and thread hand-offs. A multi is all or
        # nothing, so a chunk with a failing write (a leader changed that ISR meanwhile) is
        # written again one partition per multi: every partition gets its own answer.
        keys, ops, chunks = _state_writes(updates)
        out: dict[Any, int | ZkError] = {}
        alone: list[Any] = []
        results = await self._fenced_many([[ops[k] for k in chunk] for chunk in chunks],
                                          epoch_zk_version)
        for chunk, r in zip(chunks, results):
            if not isinstance(r, ZkError):
                out.update((k, stat.version) for k, stat in zip(chunk, r))
            elif len(chunk) == 1:
                out[chunk[0]] = r
            else:
                alone.extend(chunk)
        if alone:
            for k, r in zip(alone, await self._fenced_many([[ops[k]] for k in alone],
                                                           epoch_zk_version)):
                out[k] = r if isinstance(r, ZkError) else r[0].version
        return {k: out[k] for k in keys}

    async def set_topic_assignment(self, topic: str, assignment: TopicAssignment,
                                   epoch_zk_version: int, expected_version: int = -1) -> int:
        """Controller rewrite of ``/brokers/topics/<t>`` (reassignment, topic id); fenced."""
        (stat,) = await self.fenced_multi(
            [SetDataOp(TopicZNode.path(topic), TopicZNode.encode_assignment(assignment),
                       expected_version)], epoch_zk_version)
        return stat.version

    async def _fenced_delete_recursive(self, path: str, epoch_zk_version: int) -> None:
        try:
            children = await self.session.get_children(path)
        except NoNodeError:
            return
        for child in children:
            await self._fenced_delete_recursive(f"{path}/{child}", epoch_zk_version)
        try:
            await self.fenced_multi([DeleteOp(path)], epoch_zk_version)
        except NoNodeError:
            pass

    async def delete_topic_znodes(self, topic: str, epoch_zk_version: int) -> None:
        """Last step of topic deletion (§6.8): topic, its config and its marker; fenced."""
        await self._fenced_delete_recursive(TopicZNode.path(topic), epoch_zk_version)
        await self._fenced_delete_recursive(ConfigEntityZNode.path(ConfigType.TOPIC, topic),
                                            epoch_zk_version)
        await self._fenced_delete_recursive(DeleteTopicZNode.path(topic), epoch_zk_version)

    async def delete_topic_deletion_markers(self, topics: Iterable[str],
                                            epoch_zk_version: int) -> None:
        """Drop ``/admin/delete_topics/<t>`` markers (e.g. deletion disabled / unknown topic)."""
        await self._fenced_delete_children(DeleteTopicsZNode.path(), list(topics),
                                           epoch_zk_version)

    async def remove_deletion_marker(self, topic: str, epoch_zk_version: int) -> None:
        """Drop one topic's ``/admin/delete_topics/<t>`` marker; fenced, absent is fine."""
        await self.delete_topic_deletion_markers([topic], epoch_zk_version)

    async def _fenced_delete_children(self, parent: str, names: list[str] | None,
                                      epoch_zk_version: int) -> None:
        if names is None:
            try:
                names = await self.session.get_children(parent)
            except NoNodeError:
                return
        out = await self._fenced_many([[DeleteOp(f"{parent}/{n}")] for n in names],
                                      epoch_zk_version)
        for r in out:
            if isinstance(r, ZkError) and not isinstance(r, NoNodeError):
                raise r

    # -- legacy admin triggers (controller side) ---------------------------------------------

    async def get_partition_reassignment(self) -> dict[TopicPartition, tuple[int, ...]] | None:
        """``/admin/reassign_partitions`` (§3.9), None if absent.

        Raises ValueError/KeyError/TypeError for a malformed node."""
        r = await self.session.get_or_none(ReassignPartitionsZNode.path())
        if r is None:
            return None
        return ReassignPartitionsZNode.decode(r[0]) if r[0] else {}

    async def set_partition_reassignment(
            self, reassignment: Mapping[TopicPartition, Sequence[int]],
            epoch_zk_version: int) -> None:
        """Controller rewrite of ``/admin/reassign_partitions`` as partitions complete; an
        empty mapping deletes the node. Fenced; a node deleted meanwhile is left deleted."""
        try:
            if reassignment:
                await self.fenced_multi(
                    [SetDataOp(ReassignPartitionsZNode.path(),
                               ReassignPartitionsZNode.encode(reassignment))], epoch_zk_version)
            else:
                await self.fenced_multi([DeleteOp(ReassignPartitionsZNode.path())],
                                        epoch_zk_version)
        except NoNodeError:
            pass

    async def delete_preferred_replica_election(self, epoch_zk_version: int) -> None:
        """Drop ``/admin/preferred_replica_election`` once processed (§3.10); fenced."""
        try:
            await self.fenced_multi([DeleteOp(PreferredReplicaElectionZNode.path())],
                                    epoch_zk_version)
        except NoNodeError:
            pass

    # -- ISR change and log dir notifications ------------------------------------------------

    async def post_isr_change_notification(self, partitions: Iterable[TopicPartition]) -> str:
        """A leader tells the controller it changed these ISRs (§6.7); returns the path."""
        return await self.session.create(
            IsrChangeNotificationZNode.sequence_path(),
            IsrChangeNotificationZNode.encode(partitions), sequence=True, makepath=True)

    async def get_all_isr_change_notifications(self) -> list[str]:
        """Child names (``isr_change_<seq>``) in sequence order."""
        return await self._sorted_children(IsrChangeNotificationZNode.path())

    async def get_partitions_from_isr_change_notifications(
            self, names: Sequence[str]) -> list[TopicPartition]:
        got = await self.session.get_many([IsrChangeNotificationZNode.child_path(n)
                                           for n in names])
        seen: dict[TopicPartition, None] = {}
        for r in got:
            if r is not None and r[0]:
                seen.update(dict.fromkeys(IsrChangeNotificationZNode.decode(r[0])))
        return list(seen)

    async def delete_isr_change_notifications(self, names: Iterable[str] | None,
                                              epoch_zk_version: int) -> None:
        """Delete processed notifications (all of them if ``names`` is None); fenced."""
        await self._fenced_delete_children(IsrChangeNotificationZNode.path(),
                                           None if names is None else list(names),
                                           epoch_zk_version)

    async def post_log_dir_event_notification(self, broker_id: int) -> str:
        return await self.session.create(
            LogDirEventNotificationZNode.sequence_path(),
            LogDirEventNotificationZNode.encode(broker_id), sequence=True, makepath=True)

    async def get_all_log_dir_event_notifications(self) -> list[str]:
        return await self._sorted_children(LogDirEventNotificationZNode.path())

    async def get_broker_ids_from_log_dir_events(self, names: Sequence[str]) -> list[int]:
        got = await self.session.get_many([LogDirEventNotificationZNode.child_path(n)
                                           for n in names])
        return sorted({LogDirEventNotificationZNode.decode(r[0])[0]
                       for r in got if r is not None and r[0]})

    async def delete_log_dir_event_notifications(self, names: Iterable[str] | None,
                                                 epoch_zk_version: int) -> None:
        await self._fenced_delete_children(LogDirEventNotificationZNode.path(),
                                           None if names is None else list(names),
                                           epoch_zk_version)

    async def _sorted_children(self, path: str) -> list[str]:
        try:
            return sorted(await self.session.get_children(path))
        except NoNodeError:
            return []

    # -- partition state (leader side) -------------------------------------------------------

    async def get_partition_state(self, topic: str, partition: int
                                  ) -> LeaderIsrAndControllerEpoch | None:
        r = await self.session.get_or_none(TopicPartitionStateZNode.path(topic, partition))
        if r is None or not r[0]:
            return None
        return TopicPartitionStateZNode.decode(r[0], r[1].version)

    async def get_partition_states(self, topic: str) -> dict[int, LeaderIsrAndControllerEpoch]:
        """States of every partition of ``topic`` that has one."""
        return (await self.get_partition_states_of_topics([topic]))[topic]

    async def get_partition_states_of_topics(self, topics: Sequence[str]
                                             ) -> dict[str, dict[int, LeaderIsrAndControllerEpoch]]:
        """:meth:`get_partition_states` of several topics in two pipelined rounds (every
        ``partitions`` listing, then every state), not two round trips per topic."""
        listings = await self.session.get_children_many(
            [TopicPartitionsZNode.path(t) for t in topics])
        keys = [(t, int(p)) for t, children in zip(topics, listings)
                for p in sorted(children or (), key=int)]
        got = await self.get_partition_states_many(keys)
        out: dict[str, dict[int, LeaderIsrAndControllerEpoch]] = {t: {} for t in topics}
        for (t, p), st in got.items():
            out[t][p] = st
        return out

    async def get_partition_states_many(self, partitions: Iterable[Any]
                                        ) -> dict[Any, LeaderIsrAndControllerEpoch]:
        """Pipelined reads; keys are the given ``(topic, p)``/TopicPartition, missing omitted."""
        keys = list(partitions)
        got = await self.session.get_versioned_many([TopicPartitionStateZNode.path(*_tp(k))
                                                     for k in keys])
        return {k: TopicPartitionStateZNode.decode(r[0], r[1])
                for k, r in zip(keys, got) if r is not None and r[0]}

    async def conditional_update_partition_state(
            self, topic: str, partition: int, new_state: LeaderIsrAndControllerEpoch,
            expected_zk_version: int) -> int | None:
        """A leader's ISR write: CAS on the state's zkVersion (not controller-fenced, §6.5).

        Returns the new zkVersion; if the CAS fails but the stored state already equals
        ``new_state`` (our earlier write whose ack was lost) returns the stored version;
        otherwise None (wait for the controller's next LeaderAndIsr).
        """
        path = TopicPartitionStateZNode.path(topic, partition)
        try:
            stat = await self.session.set(path, TopicPartitionStateZNode.encode(new_state),
                                          expected_zk_version)
            return stat.version
        except NoNodeError:
            return None
        except BadVersionError:
            current = await self.get_partition_state(topic, partition)
            if current is not None and current.same_decision(new_state):
                return current.zk_version
            return None

    async def conditional_update_partition_states(
            self, updates: Mapping[Any, tuple[LeaderIsrAndControllerEpoch, int]]
    ) -> dict[Any, int | None]:
        """Many leaders' ISR writes at once: ``updates[(topic, p)] = (state, expected
        zkVersion)``; per key what :meth:`conditional_update_partition_state` would return.

        Up to ``STATE_WRITES_PER_MULTI`` CAS writes share one multi, and the multis are
        pipelined: a broker that leads thousands of partitions after a restart takes its
        followers back one ISR write each, and one request per write made that take tens of
        seconds. A multi is all or nothing, so a chunk with a failing write is written again
        one partition at a time, each with its own answer.
        """
        if len(updates) == 1:   # one write: no multi around it
            ((key, (state, expected)),) = updates.items()
            return {key: await self.conditional_update_partition_state(
                *_tp(key), state, expected)}
        _keys, ops, chunks = _state_writes(updates)
        out: dict[Any, int | None] = {}
        for chunk, r in zip(chunks, await self.session.multi_many(
                [[ops[k] for k in chunk] for chunk in chunks])):
            if not isinstance(r, ZkError):
                out.update((k, stat.version) for k, stat in zip(chunk, r))
            elif not isinstance(r, (BadVersionError, NoNodeError)):
                raise r   # the session, not a partition: the caller retries later
            else:
                for key in chunk:
                    state, expected = updates[key]
                    out[key] = await self.conditional_update_partition_state(
                        *_tp(key), state, expected)
        return out

    # -- topics (admin) ----------------------------------------------------------------------

    async def get_all_topics(self) -> list[str]:
        return await self._sorted_children(TopicsZNode.path())

    async def topic_exists(self, topic: str) -> bool:
        return await self.session.exists(TopicZNode.path(topic)) is not None

    async def get_topic_assignment(self, topic: str) -> TopicAssignment | None:
        """The assignment with its znode version in ``zk_version``; None if no such topic."""
        r = await self.session.get_or_none(TopicZNode.path(topic))
        if r is None or not r[0]:
            return None
        return TopicZNode.decode(r[0], r[1].version)

    async def get_topic_assignments(self, topics: Sequence[str]) -> dict[str, TopicAssignment]:
        """:meth:`get_topic_assignment` of several topics, pipelined; missing ones omitted."""
        got = await self.session.get_many([TopicZNode.path(t) for t in topics])
        return {t: TopicZNode.decode(r[0], r[1].version)
                for t, r in zip(topics, got) if r is not None and r[0]}

    async def create_topic(self, topic: str, assignment: Mapping[int, Sequence[int]],
                           config: Mapping[str, str] | None = None, *,
                           topic_id: str | None = None) -> None:
        """Create a topic the way kafka-topics/AdminZkClient does (§6.8).

        Raises:
            InvalidTopicException: bad name, or it collides with an existing topic once
                '.' and '_' are treated alike.
            InvalidReplicaAssignment: partitions not 0..n-1, duplicate or uneven replicas.
            TopicAlreadyExists: the topic exists.
        """
        reason = validate_topic_name(topic)
        if reason:
            raise InvalidTopicException(reason)
        _validate_assignment(assignment, first_partition=0)
        if await self.topic_exists(topic):
            raise TopicAlreadyExists(f"Topic '{topic}' already exists.")
        if "." in topic or "_" in topic:
            norm = topic.replace(".", "_")
            clash = [t for t in await self.get_all_topics() if t.replace(".", "_") == norm]
            if clash:
                raise InvalidTopicException(f"Topic '{topic}' collides with existing topics: "
                                            f"{', '.join(clash)}")
        await self._set_or_create(ConfigEntityZNode.path(ConfigType.TOPIC, topic),
                                  ConfigEntityZNode.encode(config or {}))
        try:
            await self.session.create(TopicZNode.path(topic),
                                      TopicZNode.encode(assignment, topic_id=topic_id),
                                      makepath=True)
        except NodeExistsError:
            raise TopicAlreadyExists(f"Topic '{topic}' already exists.") from None

    async def add_partitions(self, topic: str, new_assignment: Mapping[int, Sequence[int]],
                             expected_version: int = -1) -> int:
        """Append partitions ``new_assignment`` (numbered after the existing ones) to the
        topic's assignment with a CAS; returns the new znode version.

        Raises UnknownTopicOrPartition, InvalidReplicaAssignment, BadVersionError (the
        assignment changed since ``expected_version`` or concurrently).
        """
        current = await self.get_topic_assignment(topic)
        if current is None:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist.")
        if expected_version != -1 and current.zk_version != expected_version:
            raise BadVersionError(path=TopicZNode.path(topic))
        _validate_assignment(new_assignment, first_partition=len(current.partitions))
        # Kafka compares with partition 0 only: after a reassignment changed some partitions'
        # replication factor, partitions can still be added.
        existing_rf = {len(current.partitions[0])} if 0 in current.partitions else set()
        new_rf = {len(r) for r in new_assignment.values()}
        if existing_rf and new_rf != existing_rf:
            raise InvalidReplicaAssignment(
                f"Inconsistent replication factor: partition 0 has {sorted(existing_rf)[0]}"
                f", new partitions have {sorted(new_rf)}")
        merged = {**current.partitions, **{p: tuple(r) for p, r in new_assignment.items()}}
        stat = await self.session.set(
            TopicZNode.path(topic),
            TopicZNode.encode_assignment(attrs.evolve(current, partitions=merged)),
            current.zk_version)
        return stat.version

    async def mark_topic_for_deletion(self, topic: str) -> bool:
        """Create ``/admin/delete_topics/<t>``; False if it was already marked.

        Raises UnknownTopicOrPartition if the topic does not exist.
        """
        if not await self.topic_exists(topic):
            raise UnknownTopicOrPartition(f"Topic '{topic}' to delete does not exist")
        try:
            await self.session.create(DeleteTopicZNode.path(topic), DeleteTopicZNode.encode(),
                                      makepath=True)
            return True
        except NodeExistsError:
            return False

    async def get_topics_marked_for_deletion(self) -> list[str]:
        return await self._sorted_children(DeleteTopicsZNode.path())

    # -- configs -----------------------------------------------------------------------------

    async def get_entity_config(self, entity_type: str, entity_name: str) -> dict[str, str]:
        r = await self.session.get_or_none(ConfigEntityZNode.path(entity_type, entity_name))
        return {} if r is None else ConfigEntityZNode.decode(r[0])

    async def get_topic_config(self, topic: str) -> dict[str, str]:
        return await self.get_entity_config(ConfigType.TOPIC, topic)

    async def get_topic_configs(self, topics: Sequence[str]) -> dict[str, dict[str, str]]:
        """:meth:`get_topic_config` of several topics, pipelined ({} for a topic without)."""
        got = await self.session.get_many(   # (a topic's config is a few hundred bytes)
            [ConfigEntityZNode.path(ConfigType.TOPIC, t) for t in topics], small=True)
        return {t: {} if r is None else ConfigEntityZNode.decode(r[0])
                for t, r in zip(topics, got)}

    async def change_entity_config(self, entity_type: str, entity_name: str,
                                   config: Mapping[str, str]) -> str:
        """Replace an entity's config, then post the change notification (§3.14, in that
        order so a broker woken by the notification reads the new config). Returns the
        notification path."""
        await self._set_or_create(ConfigEntityZNode.path(entity_type, entity_name),
                                  ConfigEntityZNode.encode(config))
        return await self.session.create(
            ConfigEntityChangeNotificationZNode.sequence_path(),
            ConfigEntityChangeNotificationZNode.encode(f"{entity_type}/{entity_name}"),
            sequence=True, makepath=True)

    async def set_topic_config(self, topic: str, config: Mapping[str, str]) -> str:
        return await self.change_entity_config(ConfigType.TOPIC, topic, config)

    async def _set_or_create(self, path: str, data: bytes) -> None:
        while True:
            try:
                await self.session.set(path, data)
                return
            except NoNodeError:
                pass
            try:
                await self.session.create(path, data, makepath=True)
                return
            except NodeExistsError:
                continue

    # -- producer ids ------------------------------------------------------------------------

    async def allocate_producer_id_block(self, broker_id: int) -> tuple[int, int]:
        """Claim the next block of 1000 producer ids with a CAS loop (§3.15)."""
        path = ProducerIdBlockZNode.path()
        while True:
            r = await self.session.get_or_none(path)
            if r is None:
                await self.session.ensure_path(path)
                continue
            block = ProducerIdBlockZNode.next_block(ProducerIdBlockZNode.decode(r[0]), broker_id)
            try:
                await self.session.set(path, ProducerIdBlockZNode.encode(block), r[1].version)
                return block.block_start, block.block_end
            except BadVersionError:
                continue

    # -- legacy consumer offsets -------------------------------------------------------------

    async def get_consumer_offset(self, group: str, topic: str, partition: int) -> int | None:
        r = await self.session.get_or_none(ConsumerOffsetZNode.path(group, topic, partition))
        return None if r is None or not r[0] else ConsumerOffsetZNode.decode(r[0])

    async def set_consumer_offset(self, group: str, topic: str, partition: int,
                                  offset: int) -> None:
        await self._set_or_create(ConsumerOffsetZNode.path(group, topic, partition),
                                  ConsumerOffsetZNode.encode(offset))

    # -- ACLs (AclAuthorizer) ----------------------------------------------------------------

    async def create_acl_paths(self) -> None:
        """The ACL stores, their resource-type nodes and both change roots (what Kafka's
        AclAuthorizer creates when it starts; brokers without an authorizer do not)."""
        for path in acl_paths():
            await self.session.ensure_path(path)

    async def get_acl_patterns(self, pattern_type: PatternType) -> list[ResourcePattern]:
        """Every resource pattern with a znode in the store of ``pattern_type``; resource
        type nodes Kafka does not know are skipped (as Kafka does, with a warning)."""
        out = []
        for segment in await self._sorted_children(AclZNode.root(pattern_type.name)):
            resource_type = parse_pascal(ResourceType, segment)
            if resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
                continue
            for name in await self._sorted_children(
                    AclZNode.type_path(segment, pattern_type.name)):
                out.append(ResourcePattern(resource_type, name, pattern_type))
        return out

    async def get_all_acls(self) -> dict[ResourcePattern, VersionedAcls | ValueError]:
        """Every stored ACL set (LITERAL and PREFIXED stores), read pipelined. A znode that
        cannot be decoded is returned as its ValueError, so one bad node does not hide the
        others."""
        patterns = [*await self.get_acl_patterns(PatternType.LITERAL),
                    *await self.get_acl_patterns(PatternType.PREFIXED)]
        got = await self.session.get_many([_acl_path(p) for p in patterns])
        out: dict[ResourcePattern, VersionedAcls | ValueError] = {}
        for pattern, r in zip(patterns, got):
            if r is None:
                continue   # deleted between the listing and the read
            try:
                out[pattern] = VersionedAcls(_decode_acls(r[0]), r[1].version)
            except ValueError as e:
                out[pattern] = e
        return out

    async def get_versioned_acls(self, pattern: ResourcePattern) -> VersionedAcls:
        """A pattern's ACLs and znode version; no znode is :data:`NO_ACLS` (version -1).

        Raises:
            ValueError: the znode's content cannot be decoded.
        """
        r = await self.session.get_or_none(_acl_path(pattern))
        if r is None:
            return NO_ACLS
        return VersionedAcls(_decode_acls(r[0]), r[1].version)

    async def conditional_set_acls(self, pattern: ResourcePattern,
                                   acls: Iterable[AccessControlEntry],
                                   expected_version: int) -> int | None:
        """Rewrite an existing pattern's znode if its version is still ``expected_version``;
        the new version, or None when it changed or vanished (re-read and retry)."""
        if expected_version < 0:
            raise ValueError(f"Invalid version {expected_version} provided for conditional "
                             "update")
        try:
            stat = await self.session.set(_acl_path(pattern), _encode_acls(acls),
                                          expected_version)
            return stat.version
        except (BadVersionError, NoNodeError):
            return None

    async def create_acls_if_not_exists(self, pattern: ResourcePattern,
                                        acls: Iterable[AccessControlEntry]) -> int | None:
        """Create a pattern's znode; its version (0), or None if someone created it first."""
        try:
            await self.session.create(_acl_path(pattern), _encode_acls(acls), makepath=True)
            return 0
        except NodeExistsError:
            return None

    async def conditional_delete_acls(self, pattern: ResourcePattern,
                                      expected_version: int) -> bool:
        """Delete an emptied pattern's znode; False if its version changed meanwhile."""
        try:
            await self.session.delete(_acl_path(pattern), expected_version)
            return True
        except NoNodeError:
            return True
        except BadVersionError:
            return False

    async def create_acl_change_notification(self, pattern: ResourcePattern) -> str:
        """``acl_changes_<seq>`` in the literal or extended change root; returns its path."""
        if pattern.pattern_type is PatternType.LITERAL:
            znode, data = AclChangeNotificationZNode, AclChangeNotificationZNode.encode(
                pattern.resource_type.name, pattern.name)
        else:
            znode, data = ExtendedAclChangeNotificationZNode, \
                ExtendedAclChangeNotificationZNode.encode(
                    pattern.resource_type.name, pattern.name, pattern.pattern_type.name)
        return await self.session.create(znode.sequence_path(), data, sequence=True,
                                         makepath=True)

    async def get_acl_change_notifications(self, *, literal: bool) -> list[str]:
        """Child names of ``/kafka-acl-changes`` (literal) or ``/kafka-acl-extended-changes``,
        in sequence order."""
        return await self._sorted_children(_acl_change_store(literal).PARENT)

    async def get_acl_changes(self, names: Sequence[str], *, literal: bool
                              ) -> list[tuple[str, ResourcePattern | ValueError | None, int]]:
        """``(name, changed pattern, ctime ms)`` per notification, pipelined; the pattern is
        None for a vanished node and a ValueError for data that cannot be decoded."""
        store = _acl_change_store(literal)
        got = await self.session.get_many([store.child_path(n) for n in names])
        out: list[tuple[str, ResourcePattern | ValueError | None, int]] = []
        for name, r in zip(names, got):
            if r is None:
                out.append((name, None, 0))
                continue
            try:
                out.append((name, _decode_acl_change(r[0] or b"", literal), r[1].ctime))
            except ValueError as e:
                out.append((name, e, r[1].ctime))
        return out

    async def delete_acl_change_notifications(self, names: Iterable[str], *,
                                              literal: bool) -> None:
        """Delete processed or expired notifications; already gone is fine."""
        store = _acl_change_store(literal)
        for name in names:
            try:
                await self.session.delete(store.child_path(name))
            except NoNodeError:
                pass


def _acl_path(pattern: ResourcePattern) -> str:
    return AclZNode.path(pascal_name(pattern.resource_type), pattern.name,
                         pattern.pattern_type.name)


def _acl_change_store(literal: bool):
    return AclChangeNotificationZNode if literal else ExtendedAclChangeNotificationZNode


def _encode_acls(acls: Iterable[AccessControlEntry]) -> bytes:
    return AclZNode.encode(StoredAcl(principal=a.principal,
                                     permission_type=pascal_name(a.permission_type),
                                     operation=pascal_name(a.operation), host=a.host)
                           for a in sort_entries(acls))


def _decode_acls(data: bytes | None) -> frozenset[AccessControlEntry]:
    """Raises ValueError (also for a principal that is not ``Type:name``)."""
    try:
        stored = AclZNode.decode(data)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed ACL znode: {e!r}") from None
    return frozenset(AccessControlEntry(
        parse_principal(a.principal), a.host, parse_pascal(AclOperation, a.operation),
        parse_pascal(AclPermissionType, a.permission_type)) for a in stored)


def _decode_acl_change(data: bytes, literal: bool) -> ResourcePattern:
    """Raises ValueError for an unknown resource or pattern type."""
    if literal:
        type_name, name = AclChangeNotificationZNode.decode(data)
        pattern_type = PatternType.LITERAL
    else:
        type_name, name, pattern_name = ExtendedAclChangeNotificationZNode.decode(data)
        pattern_type = PatternType.__members__.get(pattern_name, PatternType.UNKNOWN)
    resource_type = from_enum_name(ResourceType, type_name)
    if resource_type is ResourceType.UNKNOWN:   # 2.0-2.3 wrote "TransactionalId:t"
        resource_type = parse_pascal(ResourceType, type_name)
    if resource_type in (ResourceType.UNKNOWN, ResourceType.ANY) or not pattern_type.is_specific:
        raise ValueError(f"ACL change for an unknown resource {type_name}:{name} "
                         f"({pattern_type.name})")
    return ResourcePattern(resource_type, name, pattern_type)


def _validate_assignment(assignment: Mapping[int, Sequence[int]], *,
                         first_partition: int) -> None:
    """Kafka's checks on a proposed assignment (AdminZkClient.validateTopicCreate)."""
    if not assignment:
        raise InvalidReplicaAssignment("Replica assignment is empty.")
    parts = sorted(assignment)
    if parts != list(range(first_partition, first_partition + len(parts))):
        raise InvalidReplicaAssignment(
            f"Partitions should be a consecutive 0-based integer sequence starting at "
            f"{first_partition}, got {parts}")
    sizes = {len(assignment[p]) for p in parts}
    if 0 in sizes:
        raise InvalidReplicaAssignment("Replica assignment has a partition without replicas.")
    if len(sizes) > 1:
        raise InvalidReplicaAssignment("All partitions should have the same number of replicas")
    for p in parts:
        if len(set(assignment[p])) != len(assignment[p]):
            raise InvalidReplicaAssignment(
                f"Duplicate replica assignment found: {p} -> {list(assignment[p])}")
