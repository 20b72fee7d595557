"""Client-side errors that have no Kafka wire code.

Broker-reported errors stay the classes of ``kafkalite.errors`` (one registry, style rule 9):
the client raises an *instance* of the registered class, with a message saying which topic or
partition it concerns. What lives here are failures the broker never reports: the socket could
not be opened or broke, and a retry budget ran out. They subclass the builtin exceptions a caller
would naturally catch (``OSError``, ``TimeoutError``) so a CLI can map them to one-line errors
without knowing this module.
"""

from __future__ import annotations

from kafkalite.errors import KafkaError, for_code

__all__ = [
    "ClientError",
    "ConnectionFailed",
    "KafkaTimeoutError",
    "error_for",
    "raise_for_code",
]


class ClientError(Exception):
    """Base class of client-side errors that are not Kafka error codes."""


class ConnectionFailed(ClientError, OSError):
    """A broker connection could not be opened, or broke while requests were in flight."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None):
        super().__init__(message)
        self.message = message
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return self.message


class KafkaTimeoutError(ClientError, TimeoutError):
    """A request or a bounded retry loop ran out of time; the message names what was awaited.

    ``retriable`` is True for one timed-out request (trying again may work) and False when a
    whole retry budget is spent (trying again is what just failed).
    """

    def __init__(self, message: str, *, last_error: BaseException | None = None,
                 retriable: bool = True):
        if last_error is not None:
            message = f"{message} (last error: {describe(last_error)})"
        super().__init__(message)
        self.message = message
        self.last_error = last_error
        self.retriable = retriable

    def __str__(self) -> str:
        return self.message


def describe(exc: BaseException) -> str:
    """``NAME: message`` for Kafka errors (Kafka's spelling), ``str(exc)`` for anything else."""
    if isinstance(exc, KafkaError):
        return f"{type(exc).kafka_name()}: {exc}"
    return str(exc) or type(exc).__name__


def error_for(code: int, context: str = "", message: str | None = None) -> KafkaError | None:
    """An instance of the registered error class for ``code`` (None for 0).

    Args:
        code: the wire error code.
        context: what the error concerns (``"topic t partition 0"``), prepended to the message.
        message: the broker's error message, when the response carries one.
    """
    cls = for_code(code)
    if cls is None:
        return None
    text = message or cls.default_message()
    if context:
        text = f"{context}: {text}"
    return cls(text)


def raise_for_code(code: int, context: str = "", message: str | None = None) -> None:
    """Raise :func:`error_for` of ``code`` unless it is 0."""
    error = error_for(code, context, message)
    if error is not None:
        raise error
