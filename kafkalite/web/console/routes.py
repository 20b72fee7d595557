"""Request routing and input checking for the console's JSON API (pure).

Routes are ``METHOD /api/literal/{name}/...`` patterns. Matching splits the request target as
it was sent (still %-encoded) and decodes each segment afterwards, so a consumer group id with
a ``/`` in it (group ids are free-form) is one segment when the page encodes it with
``encodeURIComponent``. A path that matches no pattern is a 404; one that matches only under
another method is a 405 naming the allowed methods, as HTTP asks.

Bad input is the client's fault and must never look like a broker failure: every check here
raises :class:`ApiError` with a 4xx status and a message the page shows as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

__all__ = ["ApiError", "Router", "Match", "int_param", "split_target"]


class ApiError(Exception):
    """An answer other than 200 for the page: ``status`` and a message to show."""

    def __init__(self, status: int, message: str, *, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@attrs.frozen
class Match:
    name: str
    params: Mapping[str, str]


def split_target(target: str) -> list[str]:
    """The decoded segments of a request target's path (query dropped, empty ones too)."""
    path = urlsplit(target).path
    return [unquote(seg) for seg in path.split("/") if seg]


class Router:
    """Patterns to route names; :meth:`match` picks the route for a method and target."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, tuple[str, ...], str]] = []

    def add(self, method: str, pattern: str, name: str) -> None:
        self._routes.append((method.upper(), tuple(s for s in pattern.split("/") if s), name))

    @staticmethod
    def _bind(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
        if len(pattern) != len(segments):
            return None
        params = {}
        for want, got in zip(pattern, segments):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params

    def match(self, method: str, target: str) -> Match:
        """The route for ``method`` (HEAD counts as GET) and ``target``.

        Raises:
            ApiError: 404 when no pattern fits the path, 405 (with ``Allow``) when only
                other methods have one.
        """
        method = "GET" if method.upper() == "HEAD" else method.upper()
        segments = split_target(target)
        allowed = []
        for route_method, pattern, name in self._routes:
            params = self._bind(pattern, segments)
            if params is None:
                continue
            if route_method == method:
                return Match(name, params)
            allowed.append(route_method)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            raise ApiError(405, f"{method} is not allowed here (allowed: {allow})",
                           headers=(("Allow", allow),))
        raise ApiError(404, f"no such API: /{'/'.join(segments)}")


def int_param(source: Mapping[str, Any], name: str, *, default: int | None = None,
              minimum: int | None = None, maximum: int | None = None,
              required: bool = False) -> int | None:
    """An integer from a query string or a JSON body.

    Raises:
        ApiError: 400 when missing (and ``required``), not an integer, or out of range.
    """
    raw = source.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, f"'{name}' is required")
        return default
    if isinstance(raw, bool):
        raise ApiError(400, f"'{name}' must be an integer, not {raw!r}")
    try:
        value = int(raw) if isinstance(raw, (int, str)) else None
    except ValueError:
        value = None
    if value is None:
        raise ApiError(400, f"'{name}' must be an integer, not {raw!r}")
    if minimum is not None and value < minimum:
        raise ApiError(400, f"'{name}' must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ApiError(400, f"'{name}' must be at most {maximum}, not {value}")
    return value
