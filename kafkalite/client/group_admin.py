"""Consumer-group administration over the Kafka protocol: Kafka's AdminClient group calls.

What ``kafka-consumer-groups.sh`` and the web console both need: list groups on every broker,
describe one at its coordinator, read and alter its committed offsets, delete groups and
offsets. The coordinator of each group is remembered and forgotten again when a request to it
fails (it may have moved).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kafkalite import errors
from kafkalite.client.assignors import CONSUMER_PROTOCOL_TYPE, Assignment
from kafkalite.client.cluster import Cluster
from kafkalite.client.concurrency import gather
from kafkalite.client.consumer import list_offsets
from kafkalite.client.errors import error_for
from kafkalite.client.group import (
    Coordinator,
    GroupDescription,
    MemberDescription,
    OffsetAndMetadata,
    committed_from_response,
    find_coordinator,
    offset_commit_errors,
    offset_commit_request,
    offset_fetch_request,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.messages.delete_groups import DeleteGroupsRequest
from kafkalite.protocol.messages.describe_groups import DescribeGroupsRequest
from kafkalite.protocol.messages.list_groups import ListGroupsRequest
from kafkalite.protocol.messages.offset_delete import (
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic)

__all__ = ["GroupAdmin"]


class GroupAdmin:
    """Group information through the Kafka protocol (Kafka's AdminClient calls)."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self._coordinators: dict[str, Coordinator] = {}

    async def _coordinator_request(self, group_id: str, msg: Any) -> Any:
        async def attempt():
            coordinator = self._coordinators.get(group_id)
            if coordinator is None:
                coordinator = await find_coordinator(self.cluster, group_id)
                self._coordinators[group_id] = coordinator
            try:
                return await self.cluster.request(coordinator.node_id, msg)
            except Exception:
                self._coordinators.pop(group_id, None)  # it may have moved
                raise

        return await self.cluster.call_with_retries(attempt, what=f"reach the coordinator of "
                                                                  f"group {group_id}")

    async def list_groups(self) -> list[tuple[str, str | None]]:
        """``(group id, state or None)`` of consumer groups on every broker, sorted."""
        await self.cluster.refresh_metadata([])
        brokers = sorted(self.cluster.metadata.brokers)

        async def ask(node_id: int):
            response = await self.cluster.call_with_retries(
                lambda: self.cluster.request(node_id, ListGroupsRequest()),
                what=f"list groups on broker {node_id}")
            if response.error_code:
                raise error_for(response.error_code, f"ListGroups on broker {node_id}")
            return response.groups

        found: dict[str, str | None] = {}
        for groups in await gather([lambda n=n: ask(n) for n in brokers]):
            for g in groups:
                if g.protocol_type in (CONSUMER_PROTOCOL_TYPE, ""):
                    found[g.group_id] = g.group_state or None
        return sorted(found.items())

    async def describe(self, group_id: str) -> GroupDescription:
        response = await self._coordinator_request(group_id,
                                                   DescribeGroupsRequest(groups=(group_id,)))
        g = response.groups[0]
        if g.error_code:
            raise error_for(g.error_code, f"describe group {group_id}")
        members = []
        for m in g.members:
            assignment: tuple[TopicPartition, ...] = ()
            if g.protocol_type == CONSUMER_PROTOCOL_TYPE and m.member_assignment:
                try:
                    assignment = Assignment.decode(m.member_assignment).partitions
                except errors.KafkaError:
                    assignment = ()
            members.append(MemberDescription(member_id=m.member_id, client_id=m.client_id,
                                      host=m.client_host, group_instance_id=m.group_instance_id,
                                      assignment=assignment))
        return GroupDescription(group_id=group_id, state=g.group_state, protocol_type=g.protocol_type,
                         protocol=g.protocol_data, members=tuple(members),
                         coordinator=self._coordinators.get(group_id))

    async def committed(self, group_id: str) -> dict[TopicPartition, int]:
        response = await self._coordinator_request(group_id, offset_fetch_request(group_id, None))
        return {tp: om.offset for tp, om in committed_from_response(response, group_id).items()
                if om is not None}

    async def alter_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        request = offset_commit_request(group_id, {tp: OffsetAndMetadata(o)
                                                   for tp, o in offsets.items()})
        response = await self._coordinator_request(group_id, request)
        problems = offset_commit_errors(response)
        if problems:
            raise next(iter(problems.values()))

    async def delete_groups(self, group_ids: Sequence[str]) -> dict[str, errors.KafkaError | None]:
        out: dict[str, errors.KafkaError | None] = {}
        for group_id in group_ids:
            response = await self._coordinator_request(
                group_id, DeleteGroupsRequest(groups_names=(group_id,)))
            code = response.results[0].error_code if response.results else 0
            out[group_id] = error_for(code, "") if code else None
        return out

    async def delete_offsets(self, group_id: str, partitions: Sequence[TopicPartition]
                             ) -> tuple[errors.KafkaError | None,
                                        dict[TopicPartition, errors.KafkaError | None]]:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        request = OffsetDeleteRequest(group_id=group_id, topics=tuple(
            OffsetDeleteRequestTopic(name=t, partitions=tuple(
                OffsetDeleteRequestPartition(partition_index=p) for p in ps))
            for t, ps in by_topic.items()))
        response = await self._coordinator_request(group_id, request)
        if response.error_code:
            return error_for(response.error_code, ""), {}
        results: dict[TopicPartition, errors.KafkaError | None] = {}
        for t in response.topics:
            for p in t.partitions:
                results[TopicPartition(t.name, p.partition_index)] = (
                    error_for(p.error_code, "") if p.error_code else None)
        top = next((e for e in results.values() if e is not None), None)
        return top, results

    async def topic_partitions(self, topic: str) -> list[TopicPartition]:
        metadata = await self.cluster.refresh_metadata([topic], allow_auto_create=False)
        t = metadata.topics.get(topic)
        if t is None or t.error_code:
            raise errors.UnknownTopicOrPartition(f"Topic {topic} does not exist")
        return [TopicPartition(topic, p) for p in t.partition_ids()]

    async def offsets_for(self, partitions: Iterable[TopicPartition], timestamp: int
                          ) -> dict[TopicPartition, int | None]:
        return await list_offsets(self.cluster, partitions, timestamp)
