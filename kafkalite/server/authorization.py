"""Authorization checks for request handlers (Kafka's ``AuthHelper``), in one place.

Every handler asks through these functions, so the rules "which principal, which host, what
when authorization is off" exist once:

* No authorizer configured (``broker.authorizer is None``): every check passes. This is the
  default and costs one attribute read; handlers on the hot path (Produce, Fetch) test
  :func:`enabled` first and skip the per-topic work entirely.
* ``ctx.principal`` None: a request this broker's own controller sends itself without a
  socket; it is never authorized, always allowed.
* Otherwise the authorizer decides for ``(ctx.principal, ctx.client_host)`` on a LITERAL
  resource (Kafka authorizes concrete resource names; the ACL patterns do the matching).

The resource names of one request are deduplicated before asking (Kafka's
``filterByAuthorized``), so a 1,000-partition fetch of one topic is one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from kafkalite import errors
from kafkalite.security.acl import (CLUSTER_NAME, AclOperation, ResourceType,
                                    operations_bitfield, supported_operations)

if TYPE_CHECKING:
    from kafkalite.server.dispatch import RequestContext

__all__ = ["enabled", "authorize", "authorize_cluster", "require_cluster", "filter_authorized",
           "partition_authorized", "authorize_by_resource_type", "authorized_operations",
           "AclOperation", "ResourceType", "CLUSTER_NAME", "NOT_REQUESTED_OPERATIONS"]

T = TypeVar("T")

#: ``authorized_operations`` fields when the client did not ask for them (Int.MinValue).
NOT_REQUESTED_OPERATIONS = -(2**31)


def enabled(ctx: RequestContext) -> bool:
    """True if checks can deny anything for this request (an authorizer and a principal)."""
    return getattr(ctx.broker, "authorizer", None) is not None and ctx.principal is not None


def authorize(ctx: RequestContext, operation: AclOperation, resource_type: ResourceType,
              name: str) -> bool:
    """May the request's principal do ``operation`` on the resource ``name``?"""
    authorizer = getattr(ctx.broker, "authorizer", None)   # test doubles may not have one
    if authorizer is None:
        return True
    principal = ctx.principal
    if principal is None:
        return True
    return authorizer.authorize(principal, ctx.client_host, operation, resource_type, name)


def authorize_cluster(ctx: RequestContext, operation: AclOperation) -> bool:
    """``operation`` on the cluster resource (``kafka-cluster``)."""
    return authorize(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME)


def require_cluster(ctx: RequestContext, operation: AclOperation) -> None:
    """Kafka's ``authorizeClusterOperation``.

    Raises:
        ClusterAuthorizationFailed: denied; the dispatcher answers with the handler's
            request-level error response.
    """
    if not authorize_cluster(ctx, operation):
        raise errors.ClusterAuthorizationFailed(
            f"Request {ctx.header.api_key}:{ctx.api_version} from {ctx.principal} is not "
            "authorized.")


def filter_authorized(ctx: RequestContext, operation: AclOperation,
                      resource_type: ResourceType, names: Iterable[str]) -> set[str]:
    """The names among ``names`` the principal may do ``operation`` on."""
    unique = set(names)
    if not enabled(ctx):
        return unique
    authorizer, principal, host = ctx.broker.authorizer, ctx.principal, ctx.client_host
    return {n for n in unique
            if authorizer.authorize(principal, host, operation, resource_type, n)}


def partition_authorized(ctx: RequestContext, operation: AclOperation,
                         resource_type: ResourceType, items: Iterable[T],
                         name: Callable[[T], str]) -> tuple[list[T], list[T]]:
    """``(authorized, unauthorized)`` items, in their order; ``name`` gives the resource."""
    items = list(items)
    if not enabled(ctx):
        return items, []
    allowed = filter_authorized(ctx, operation, resource_type, map(name, items))
    ok, denied = [], []
    for item in items:
        (ok if name(item) in allowed else denied).append(item)
    return ok, denied


def authorize_by_resource_type(ctx: RequestContext, operation: AclOperation,
                               resource_type: ResourceType) -> bool:
    """May the principal do ``operation`` on at least one resource of the type (KIP-679)?"""
    if not enabled(ctx):
        return True
    return ctx.broker.authorizer.authorize_by_resource_type(
        ctx.principal, ctx.client_host, operation, resource_type)


def authorized_operations(ctx: RequestContext, resource_type: ResourceType, name: str) -> int:
    """KIP-430 bit field of the operations the principal may do on a resource: every
    supported operation when authorization is off."""
    ops = supported_operations(resource_type)
    if enabled(ctx):
        ops = [op for op in ops if authorize(ctx, op, resource_type, name)]
    return operations_bitfield(ops)
