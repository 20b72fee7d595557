"""The broker's ACL authorizer: Kafka's ``AclAuthorizer`` over ZooKeeper (trio shell, L5).

``authorizer.class.name`` selects it (``kafka.security.authorizer.AclAuthorizer``, or the
pre-2.4 name ``kafka.security.auth.SimpleAclAuthorizer``); empty means no authorization at all,
as in Kafka. Any other class is a startup error: kafkalite cannot load Java classes.

Start-up (``run``), in Kafka's order: create the ACL paths, start watching both change roots
(``/kafka-acl-changes``, ``/kafka-acl-extended-changes``), then load every ACL into the pure
:class:`~kafkalite.security.authorizer.Authorizer` cache, so no change can slip between the
load and the watch. Only then is the service "started" and the broker serves clients.

Following changes: each new ``acl_changes_<seq>`` names one resource pattern; that pattern's
znode is re-read and replaces the cached entry. Notifications older than 15 minutes are
deleted by whichever broker sees them first (Kafka's ZkNodeChangeNotificationListener).

Writes (CreateAcls, DeleteAcls, ``kafka-acls.sh``): per resource pattern a read-modify-write
with a compare-and-set on the znode version, retried up to 10 times with 100-150 ms backoff on
a conflict, then a change notification if the entries changed. One lock serializes this
broker's writes and notification processing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from kafkalite import errors
from kafkalite.errors import ConfigError, KafkaError
from kafkalite.security.acl import (AccessControlEntry, AclBinding, AclBindingFilter,
                                    AclOperation, ResourcePattern, ResourceType,
                                    pascal_name)
from kafkalite.security.authorizer import (Authorizer, VersionedAcls, check_binding,
                                           entries_to_delete, plan_deletions)
from kafkalite.zk.errors import ZkError
from kafkalite.zk.session import retry_zk
from kafkalite.zk.znodes import AclChangeNotificationZNode, ExtendedAclChangeNotificationZNode

if TYPE_CHECKING:
    from kafkalite.zk.kafka_zk import KafkaZk

__all__ = ["AUTHORIZER_CLASSES", "AclAuthorizerService", "authorizer_from_config",
           "DeleteResult"]

log = logging.getLogger(__name__)
audit_log = logging.getLogger("kafka.authorizer.logger")

AUTHORIZER_CLASSES = ("kafka.security.authorizer.AclAuthorizer",
                      "kafka.security.auth.SimpleAclAuthorizer")
MAX_UPDATE_RETRIES = 10
CHANGE_EXPIRATION_MS = 15 * 60 * 1000
_RETRY_BACKOFF_S, _RETRY_JITTER_S = 0.100, 0.050

#: Per DeleteAcls filter: the bindings it removed, each with its error (None = deleted).
DeleteResult = list[tuple[AclBinding, KafkaError | None]]


def authorizer_from_config(config: Any) -> AclAuthorizerService | None:
    """The authorizer ``authorizer.class.name`` asks for; None when it is empty.

    Raises:
        ConfigError: another class name, or a ``super.users`` entry that is not ``Type:name``.
    """
    name = (config.get("authorizer.class.name") or "").strip()
    if not name:
        return None
    if name not in AUTHORIZER_CLASSES:
        raise ConfigError(
            f"authorizer.class.name={name} is not supported: kafkalite implements "
            f"{' and '.join(AUTHORIZER_CLASSES)} (ACLs stored in ZooKeeper); leave it empty "
            "to disable authorization")
    try:
        authorizer = Authorizer.from_config({
            "super.users": config.get("super.users"),
            "allow.everyone.if.no.acl.found": config.get("allow.everyone.if.no.acl.found")})
    except ValueError as e:
        raise ConfigError(f"Invalid super.users: {e}") from None
    return AclAuthorizerService(authorizer)


class AclAuthorizerService:
    """Authorization decisions from the cache, and the ZooKeeper side of the ACLs.

    Args:
        authorizer: the pure cache and decision maker.
        wall_clock_ms: for the age of change notifications (tests pass a fake).
    """

    def __init__(self, authorizer: Authorizer, *,
                 wall_clock_ms: Callable[[], int] | None = None,
                 max_update_retries: int = MAX_UPDATE_RETRIES):
        self.authorizer = authorizer
        self.zk: KafkaZk | None = None
        self.max_update_retries = max_update_retries
        self._clock = wall_clock_ms or (lambda: int(time.time() * 1000))
        self._lock = trio.Lock()
        self.last_executed_change = {True: -1, False: -1}   # literal -> sequence number

    # -- decisions (called on every request: no I/O, no await) -----------------------------

    def authorize(self, principal: str, host: str, operation: AclOperation,
                  resource_type: ResourceType, name: str) -> bool:
        allowed = self.authorizer.authorize(principal, host, operation, resource_type, name)
        # AclAuthorizer's audit lines (kafka-authorizer.log): denials at INFO, grants at DEBUG
        if not allowed or audit_log.isEnabledFor(logging.DEBUG):
            audit_log.log(logging.DEBUG if allowed else logging.INFO,
                          "Principal = %s is %s Operation = %s from host = %s on resource = "
                          "%s:LITERAL:%s", principal, "Allowed" if allowed else "Denied",
                          pascal_name(operation), host, pascal_name(resource_type), name)
        return allowed

    def authorize_by_resource_type(self, principal: str, host: str, operation: AclOperation,
                                   resource_type: ResourceType) -> bool:
        return self.authorizer.authorize_by_resource_type(principal, host, operation,
                                                          resource_type)

    def acls(self, binding_filter: AclBindingFilter) -> list[AclBinding]:
        return self.authorizer.acls(binding_filter)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, zk: KafkaZk) -> None:
        """Create the ACL paths and load every ACL (what a tool needs; no watches)."""
        self.zk = zk
        await zk.create_acl_paths()
        await self.load_cache()

    async def run(self, zk: KafkaZk, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Load the ACLs, report started, then follow the change notifications forever."""
        self.zk = zk
        await _retry(zk.create_acl_paths, what="creating the ACL paths")
        literal = await zk.session.watch_children(AclChangeNotificationZNode.PARENT)
        extended = await zk.session.watch_children(ExtendedAclChangeNotificationZNode.PARENT)
        await _retry(self.load_cache, what="loading the ACLs")
        log.info("ACL authorizer started: %d resource patterns with ACLs, %d super users",
                 len(self.authorizer.patterns), len(self.authorizer.super_users))
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow, literal, True)
            nursery.start_soon(self._follow, extended, False)

    async def _follow(self, channel, literal: bool) -> None:
        async for children in channel:
            await _retry(self.process_notifications, children, literal,
                         what="processing ACL changes")

    async def load_cache(self) -> None:
        """Replace the cache with every ACL stored in ZooKeeper."""
        async with self._lock:
            stored = await self.zk.get_all_acls()
            self.authorizer.clear()
            for pattern, versioned in stored.items():
                if isinstance(versioned, ValueError):
                    log.error("ignoring the ACLs of %s: %s", pattern, versioned)
                    continue
                self.authorizer.update_cache(pattern, versioned)

    async def process_notifications(self, children: Sequence[str], literal: bool) -> None:
        """Re-read the patterns named by notifications newer than the last one processed,
        then purge notifications older than 15 minutes."""
        zk = self.zk
        prefix = AclChangeNotificationZNode.PREFIX
        pending = []
        for name in sorted(children):
            if not name.startswith(prefix):
                continue
            try:
                seq = int(name[len(prefix):])
            except ValueError:
                continue
            if seq > self.last_executed_change[literal]:
                pending.append((seq, name))
        if pending:
            changes = await zk.get_acl_changes([n for _, n in pending], literal=literal)
            async with self._lock:
                for (seq, name), (_, pattern, _ctime) in zip(pending, changes):
                    if isinstance(pattern, ValueError):
                        log.error("error processing ACL change notification %s: %s", name,
                                  pattern)
                    elif pattern is not None:
                        await self._refresh(pattern)
                    self.last_executed_change[literal] = seq
        await self._purge(children, literal)

    async def _refresh(self, pattern: ResourcePattern) -> None:
        try:
            versioned = await self.zk.get_versioned_acls(pattern)
        except ValueError as e:
            log.error("ignoring the ACLs of %s: %s", pattern, e)
            return
        log.info("Processing Acl change notification for %s, versionedAcls : %s, "
                 "zkVersion : %d", pattern, ", ".join(map(str, versioned.acls)) or "{}",
                 versioned.zk_version)
        self.authorizer.update_cache(pattern, versioned)

    async def _purge(self, children: Sequence[str], literal: bool) -> None:
        if not children:
            return
        now = self._clock()
        stats = await self.zk.get_acl_changes(list(children), literal=literal)
        expired = [name for name, pattern, ctime in stats
                   if pattern is not None and now - ctime > CHANGE_EXPIRATION_MS]
        if expired:
            await self.zk.delete_acl_change_notifications(expired, literal=literal)

    # -- writes ----------------------------------------------------------------------------

    async def create_acls(self, bindings: Sequence[AclBinding]) -> list[KafkaError | None]:
        """Add ACLs; per binding None (created, or already there) or the error."""
        results: list[KafkaError | None] = [None] * len(bindings)
        by_pattern: dict[ResourcePattern, list[int]] = {}
        for i, binding in enumerate(bindings):
            error = check_binding(binding)
            if error is not None:
                results[i] = error
            else:
                by_pattern.setdefault(binding.pattern, []).append(i)
        async with self._lock:
            for pattern, indexes in by_pattern.items():
                new = frozenset(bindings[i].entry for i in indexes)
                try:
                    await self._update_resource_acls(pattern, lambda cur, new=new: cur | new)
                except (ZkError, RuntimeError) as e:
                    for i in indexes:
                        results[i] = errors.UnknownServerError(str(e))
        return results

    async def delete_acls(self, filters: Sequence[AclBindingFilter]) -> list[DeleteResult]:
        """Remove the ACLs each filter matches; per filter the bindings removed (each binding
        is reported under the first filter that matched it)."""
        results: list[DeleteResult] = [[] for _ in filters]
        async with self._lock:
            plan = plan_deletions(self.authorizer.patterns, filters)
            for pattern, matching in plan.items():
                removed: dict[AccessControlEntry, int] = {}

                def without(current, matching=matching):
                    removed.clear()
                    removed.update(entries_to_delete(current, filters, matching))
                    return current - removed.keys()

                error: KafkaError | None = None
                try:
                    await self._update_resource_acls(pattern, without)
                except (ZkError, RuntimeError) as e:
                    error = errors.UnknownServerError(str(e))
                for entry, i in removed.items():
                    results[i].append((AclBinding(pattern, entry), error))
        return results

    async def _update_resource_acls(
            self, pattern: ResourcePattern,
            new_acls: Callable[[frozenset[AccessControlEntry]], frozenset[AccessControlEntry]]
    ) -> bool:
        """Compare-and-set one pattern's znode to ``new_acls(current)``; True if it changed.

        Raises:
            RuntimeError: still conflicting after ``max_update_retries`` re-reads.
            ZkError: ZooKeeper failed.
        """
        zk = self.zk
        current = self.authorizer.get(pattern) if pattern in self.authorizer \
            else await zk.get_versioned_acls(pattern)
        retries = 0
        while True:
            new = frozenset(new_acls(current.acls))
            if new:
                version = await zk.conditional_set_acls(pattern, new, current.zk_version) \
                    if current.exists else await zk.create_acls_if_not_exists(pattern, new)
            elif current.exists:
                version = 0 if await zk.conditional_delete_acls(pattern, current.zk_version) \
                    else None
            else:
                version = -1   # nothing stored, nothing to store
            if version is not None:
                break
            retries += 1
            if retries > self.max_update_retries:
                raise RuntimeError(f"Failed to update ACLs for {pattern} after trying a "
                                   f"maximum of {self.max_update_retries} times")
            await trio.sleep(_RETRY_BACKOFF_S + random.random() * _RETRY_JITTER_S)
            current = await zk.get_versioned_acls(pattern)
        changed = new != current.acls
        self.authorizer.update_cache(pattern, VersionedAcls(new, version if new else -1))
        if changed:
            log.info("Updated ACLs for %s with new version %d", pattern, version)
            await zk.create_acl_change_notification(pattern)
        return changed


async def _retry(fn, *args: Any, what: str) -> None:
    await retry_zk(fn, *args, what=what, logger=log, prefix="[AclAuthorizer]")
