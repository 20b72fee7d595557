"""Run a few coroutines concurrently and get plain exceptions back.

Why: trio nurseries raise ``ExceptionGroup``s (strict exception groups are the default since
trio 0.25). The client fans out one request per broker (fetches, produce batches, offset
lookups) and its callers — and the CLI — want to ``except ConnectionFailed`` or a Kafka error
class, not unwrap groups. :func:`gather` catches ``Exception`` inside each child, cancels the
siblings on the first failure, and re-raises that first exception itself; any other failures
are attached to it as notes so nothing is silently lost. ``BaseException``s (Cancelled,
KeyboardInterrupt) are not caught and propagate as trio decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import trio

__all__ = ["gather"]

T = TypeVar("T")


async def gather(fns: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Await every ``fn()`` concurrently; results in the same order.

    Raises:
        Exception: the first exception raised by any child (the others were cancelled).
    """
    if len(fns) == 1:
        return [await fns[0]()]
    results: list = [None] * len(fns)
    errors: list[Exception] = []

    async def run_one(index: int, fn: Callable[[], Awaitable[T]]) -> None:
        try:
            results[index] = await fn()
        except Exception as exc:
            errors.append(exc)
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for i, fn in enumerate(fns):
            nursery.start_soon(run_one, i, fn)
    if errors:
        first = errors[0]
        for other in errors[1:]:
            first.add_note(f"also failed concurrently: {type(other).__name__}: {other}")
        raise first
    return results
