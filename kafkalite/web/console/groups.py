"""Consumer groups as the console shows them: state, members, committed offsets, lag, resets.

The calls are the ones ``kafka-consumer-groups.sh`` makes (``kafkalite.client.group_admin``);
this module shapes their answers for the pages and applies Kafka's rules: lag is
log end offset minus committed offset; offsets are reset only while the group is inactive
(``Empty`` or ``Dead``), with a "simple" commit (generation -1, no member id); a new offset is
clamped between the partition's log start and log end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import EARLIEST, LATEST, list_offsets
from kafkalite.client.group_admin import GroupAdmin
from kafkalite.model import TopicPartition
from kafkalite.web.console.routes import ApiError

__all__ = ["GroupsClient", "ResetSpec", "INACTIVE_STATES", "RESET_TARGETS"]

INACTIVE_STATES = ("Empty", "Dead")
RESET_TARGETS = ("earliest", "latest", "offset", "timestamp")


@attrs.frozen(kw_only=True)
class ResetSpec:
    """Where to move a group's offsets: ``to`` one of :data:`RESET_TARGETS`; ``value`` is the
    offset or the timestamp (ms); ``topic`` (and ``partition``) narrow the scope, else every
    partition the group has committed."""

    to: str
    value: int | None = None
    topic: str | None = None
    partition: int | None = None

    @classmethod
    def from_json(cls, body: Any) -> "ResetSpec":
        """Raises ApiError 400 on anything but a well-formed request."""
        from kafkalite.web.console.routes import int_param

        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object")
        to = body.get("to")
        if to not in RESET_TARGETS:
            raise ApiError(400, f"'to' must be one of {', '.join(RESET_TARGETS)}")
        value = None
        if to in ("offset", "timestamp"):
            value = int_param(body, "value", required=True, minimum=0)
        topic = body.get("topic") or None
        if topic is not None and not isinstance(topic, str):
            raise ApiError(400, "'topic' must be a string")
        partition = int_param(body, "partition", minimum=0)
        if partition is not None and topic is None:
            raise ApiError(400, "'partition' needs 'topic'")
        return cls(to=to, value=value, topic=topic, partition=partition)


def _tp_sort(tp: TopicPartition) -> tuple[str, int]:
    return tp.topic, tp.partition


class GroupsClient:
    """Group calls over one :class:`Cluster` (coordinators remembered per group)."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.admin = GroupAdmin(cluster)

    async def list_groups(self) -> list[tuple[str, str | None]]:
        """``(group id, state or None)`` of consumer groups on every broker, sorted."""
        return await self.admin.list_groups()

    async def describe(self, group_id: str) -> dict[str, Any]:
        d = await self.admin.describe(group_id)
        members = [{"member_id": m.member_id, "client_id": m.client_id, "host": m.host,
                    "group_instance_id": m.group_instance_id,
                    "assignment": [[tp.topic, tp.partition]
                                   for tp in sorted(m.assignment, key=_tp_sort)]}
                   for m in d.members]
        return {"group": group_id, "state": d.state, "protocol_type": d.protocol_type,
                "protocol": d.protocol, "members": members,
                "coordinator": d.coordinator.node_id if d.coordinator else None}

    async def committed(self, group_id: str) -> dict[TopicPartition, int]:
        return {tp: o for tp, o in (await self.admin.committed(group_id)).items() if o >= 0}

    async def offsets(self, group_id: str, members: Iterable[dict[str, Any]] = ()
                      ) -> list[dict[str, Any]]:
        """One row per committed or assigned partition: committed, log end, lag, owner."""
        committed = await self.committed(group_id)
        owner: dict[TopicPartition, dict[str, Any]] = {}
        for m in members:
            for topic, partition in m["assignment"]:
                owner[TopicPartition(topic, partition)] = m
        partitions = sorted(set(committed) | set(owner), key=_tp_sort)
        ends = await list_offsets(self.cluster, partitions, LATEST) if partitions else {}
        rows = []
        for tp in partitions:
            offset, end = committed.get(tp), ends.get(tp)
            m = owner.get(tp)
            rows.append({"topic": tp.topic, "partition": tp.partition, "committed": offset,
                         "log_end": end,
                         "lag": end - offset if offset is not None and end is not None else None,
                         "member_id": m["member_id"] if m else None,
                         "client_id": m["client_id"] if m else None,
                         "host": m["host"] if m else None})
        return rows

    async def summary(self, group_id: str, state: str | None) -> dict[str, Any]:
        """What the group list shows: state, member count, topics and total lag."""
        info = await self.describe(group_id)
        rows = await self.offsets(group_id, info["members"])
        lags = [r["lag"] for r in rows if r["lag"] is not None]
        return {"group": group_id, "state": info["state"] or state,
                "members": len(info["members"]),
                "topics": sorted({r["topic"] for r in rows}),
                "partitions": len(rows), "lag": sum(lags) if lags else None,
                "coordinator": info["coordinator"]}

    async def _partitions(self, group_id: str, spec: ResetSpec) -> list[TopicPartition]:
        if spec.topic is None:
            found = sorted(await self.committed(group_id), key=_tp_sort)
            if not found:
                raise ApiError(400, f"group {group_id} has no committed offsets: choose a topic")
            return found
        metadata = await self.cluster.refresh_metadata([spec.topic], allow_auto_create=False)
        t = metadata.topics.get(spec.topic)
        if t is None or t.error_code:
            raise ApiError(404, f"topic {spec.topic} does not exist")
        if spec.partition is None:
            return [TopicPartition(spec.topic, p) for p in t.partition_ids()]
        if spec.partition not in t.partitions:
            raise ApiError(404, f"topic {spec.topic} has no partition {spec.partition}")
        return [TopicPartition(spec.topic, spec.partition)]

    async def plan_reset(self, group_id: str, spec: ResetSpec) -> dict[TopicPartition, int]:
        """The new offsets (Kafka's rules, see the module docstring); nothing is written."""
        partitions = await self._partitions(group_id, spec)
        starts = await list_offsets(self.cluster, partitions, EARLIEST)
        ends = await list_offsets(self.cluster, partitions, LATEST)
        missing = [tp for tp in partitions if ends.get(tp) is None]
        if missing:
            raise ApiError(503, f"no leader answered for {', '.join(map(str, missing))}")
        if spec.to == "earliest":
            return {tp: starts.get(tp) or 0 for tp in partitions}
        if spec.to == "latest":
            return {tp: ends[tp] for tp in partitions}
        if spec.to == "offset":
            return {tp: min(max(spec.value, starts.get(tp) or 0), ends[tp]) for tp in partitions}
        found = await list_offsets(self.cluster, partitions, spec.value)
        return {tp: found[tp] if found.get(tp) is not None else ends[tp] for tp in partitions}

    async def reset(self, group_id: str, spec: ResetSpec) -> dict[TopicPartition, int]:
        """Commit the planned offsets of an inactive group.

        Raises:
            ApiError: 409 while the group has members (Kafka's message).
        """
        state = (await self.describe(group_id))["state"]
        if state not in INACTIVE_STATES:
            raise ApiError(409, f"Assignments can only be reset if the group '{group_id}' is "
                                f"inactive, but the current state is {state}.")
        plan = await self.plan_reset(group_id, spec)
        await self.admin.alter_offsets(group_id, plan)
        return plan
