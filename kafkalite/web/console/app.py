"""The broker's web console: the pages, their JSON API, and who may do what.

``console.listener=http://host:port`` makes every broker serve it; any broker shows the whole
cluster, because the console reads the cluster through the Kafka protocol like an AdminClient
(``backend.py``), not from the serving broker's memory. The pages are static HTML, CSS and
JavaScript shipped in the package (``static/``: no build step, nothing fetched from a CDN; the
charts are small hand-written SVG). They call a JSON API under ``/api/``:

=========================================  ============================================
``GET  /api/overview``                      brokers, controller, ZooKeeper, versions, health
``GET  /api/topics``                        topics with partitions, messages, size, rate
``POST /api/topics``                        create a topic (write)
``GET  /api/topics/<t>``                    partitions (leader, ISR, offsets, size), configs
``GET  /api/topics/<t>/messages``           ``partition``, ``offset`` | ``timestamp``,
                                            ``limit``, ``format`` (auto/text/json/hex)
``POST /api/topics/<t>/delete-records``     delete records below an offset (write)
``GET  /api/groups``                        consumer groups: state, members, lag
``GET  /api/groups/<g>``                    members and per-partition committed/end/lag
``POST /api/groups/<g>/reset``              reset an inactive group's offsets (write)
``GET  /api/metrics``                       per-broker chart series (``sampler.py``)
=========================================  ============================================

Who the console acts as, and what it allows:

* **Read-only by default.** With ``console.read.only=true`` (the default) every write is
  refused with 403 before anything is sent to the cluster. ``false`` enables the three writes.
* **Unsecured cluster** (no SASL listener on this broker): the console connects to the
  inter-broker listener with the broker's own inter-broker security (TLS settings, and its
  identity); anyone who can reach the console can use it, so bind it to a trusted interface.
* **Secured cluster** (this broker has a SASL listener): every page and API call needs HTTP
  Basic credentials of a cluster user, and the console connects to the SASL listener *as that
  user* (``auth.py``), so the broker's own authentication and ACLs decide what each person
  sees and may change. A wrong password is a 401; a refusal by the ACLs is a 403. Reads need
  a login too, because the message browser shows record contents. Basic credentials travel
  in clear text: put TLS in front of the console (a reverse proxy) when it leaves the host.
* The broker charts and the topics' rate sparklines are sampled in the background with the
  broker's own identity (``sampler.py``): they show rates, never record contents, and the
  metrics endpoints they read are unauthenticated anyway.
* Writes must be ``POST`` with ``Content-Type: application/json`` and, when the browser sends
  an ``Origin``, from the console's own origin. A cross-site HTML form can do neither, which is
  what keeps another site from using a signed-in browser to change the cluster.

A console request can never take the broker down: bad input is a 4xx JSON error (``routes.py``),
cluster errors become 4xx/5xx JSON with the Kafka error's name, each API call is bounded by a
timeout, and anything unexpected is a 500 from the HTTP server with the traceback logged.
"""

from __future__ import annotations

import json
import logging
import platform
import re
from collections import OrderedDict
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from kafkalite import __version__, errors
from kafkalite.client.errors import ClientError, ConnectionFailed, KafkaTimeoutError
from kafkalite.web.console.auth import (
    Credentials,
    login_mechanisms,
    parse_basic,
    pick_sasl_listener,
    user_security,
    wrong_credentials,
)
from kafkalite.web.console.backend import MAX_MESSAGES, ClusterBackend
from kafkalite.web.console.groups import ResetSpec
from kafkalite.web.console.render import FORMATS
from kafkalite.web.console.routes import ApiError, Router, int_param
from kafkalite.web.console.sampler import Sampler
from kafkalite.web.http import HttpRequest, HttpResponse

__all__ = ["ConsoleApp", "build_router", "error_status", "STATIC_DIR"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                  ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'"),
)
_API_TIMEOUT_S = 20.0
_USER_IDLE_S = 600.0
_MAX_USERS = 16
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")

# Kafka errors that are the caller's doing, or a refusal, rather than a cluster failure.
_STATUS_BY_ERROR: dict[type[errors.KafkaError], int] = {
    errors.SaslAuthenticationFailed: 401,
    errors.TopicAuthorizationFailed: 403,
    errors.GroupAuthorizationFailed: 403,
    errors.ClusterAuthorizationFailed: 403,
    errors.TransactionalIdAuthorizationFailed: 403,
    errors.UnknownTopicOrPartition: 404,
    errors.GroupIdNotFound: 404,
    errors.TopicAlreadyExists: 409,
    errors.NonEmptyGroup: 409,
    errors.InvalidTopicException: 400,
    errors.InvalidPartitions: 400,
    errors.InvalidReplicationFactor: 400,
    errors.InvalidReplicaAssignment: 400,
    errors.InvalidConfig: 400,
    errors.InvalidRequest: 400,
    errors.PolicyViolation: 400,
    errors.InvalidGroupId: 400,
    errors.OffsetOutOfRange: 400,
}


def error_status(exc: BaseException) -> int:
    """The HTTP status for a failure of a cluster call."""
    if isinstance(exc, errors.KafkaError):
        for cls, status in _STATUS_BY_ERROR.items():
            if isinstance(exc, cls):
                return status
        return 502
    if isinstance(exc, (KafkaTimeoutError, trio.TooSlowError)):
        return 504
    if isinstance(exc, ConnectionFailed):
        return 503
    return 502


def build_router() -> Router:
    router = Router()
    for method, pattern, name in (
            ("GET", "/api/overview", "overview"),
            ("GET", "/api/topics", "topics"),
            ("POST", "/api/topics", "create_topic"),
            ("GET", "/api/topics/{topic}", "topic"),
            ("GET", "/api/topics/{topic}/messages", "messages"),
            ("POST", "/api/topics/{topic}/delete-records", "delete_records"),
            ("GET", "/api/groups", "groups"),
            ("GET", "/api/groups/{group}", "group"),
            ("POST", "/api/groups/{group}/reset", "reset_offsets"),
            ("GET", "/api/metrics", "metrics")):
        router.add(method, pattern, name)
    return router


def _json_response(data: Any, status: int = 200, headers: tuple = ()) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str).encode()
    return HttpResponse(status, body, "application/json; charset=utf-8",
                        headers=(("Cache-Control", "no-store"), *_SECURITY_HEADERS, *headers))


def _error_response(status: int, message: str, *, kind: str | None = None,
                    headers: tuple = (), api: bool = True) -> HttpResponse:
    if api:
        body: dict[str, Any] = {"error": message, "status": status}
        if kind:
            body["kafka_error"] = kind
        return _json_response(body, status, headers)
    return HttpResponse(status, (message + "\n").encode(), headers=(*_SECURITY_HEADERS,
                                                                     *headers))


def _package_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


class ConsoleApp:
    """The console served by one broker (``Broker._start_web`` builds it)."""

    def __init__(self, broker):
        self.broker = broker
        self.read_only: bool = broker.config["console.read.only"]
        self.router = build_router()
        self.sampler = Sampler(self._system_backend)
        self._system: ClusterBackend | None = None
        self._users: OrderedDict[tuple[str, str], ClusterBackend] = OrderedDict()
        self._login_lock = trio.Lock()
        self._static: dict[str, tuple[bytes, str]] = {}
        self._ssl_context = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Sampling and idle-login cleanup for as long as the console is served; the client
        connections are closed when it stops."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.sampler.run)
                nursery.start_soon(self._expire_logins)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                backends = [b for b in (self._system, *self._users.values()) if b is not None]
                self._system = None
                self._users.clear()
                for backend in backends:
                    await backend.aclose()

    async def _expire_logins(self) -> None:
        while True:
            await trio.sleep(60)
            now = trio.current_time()
            for key, backend in list(self._users.items()):
                if now - backend.last_used > _USER_IDLE_S and self._users.get(key) is backend:
                    del self._users[key]
                    try:
                        await backend.aclose()
                    except Exception:
                        log.exception("web console: closing an idle login failed")

    # --- identities --------------------------------------------------------------------------

    @property
    def sasl_listener(self):
        return pick_sasl_listener(self.broker.endpoints, self.broker.inter_broker_listener)

    @property
    def secured(self) -> bool:
        return self.sasl_listener is not None

    async def _system_backend(self) -> ClusterBackend:
        """The broker's own identity on the inter-broker listener (unsecured clusters, and
        the metrics sampler)."""
        if self._system is None:
            listener = self.broker.inter_broker_listener
            endpoint = next((e for e in self.broker.endpoints if e.listener == listener), None)
            if endpoint is None:
                raise ApiError(503, "the broker has not bound its listeners yet")
            self._system = ClusterBackend(f"{endpoint.host}:{endpoint.port}",
                                          security=self.broker.inter_broker_security)
        return self._system

    async def _user_backend(self, credentials: Credentials) -> ClusterBackend:
        backend = self._users.get(credentials.key)
        if backend is not None:
            self._users.move_to_end(credentials.key)
            return backend
        async with self._login_lock:
            backend = self._users.get(credentials.key)
            if backend is None:
                backend = await self._login(credentials)
                self._users[credentials.key] = backend
                while len(self._users) > _MAX_USERS:
                    _, oldest = self._users.popitem(last=False)
                    await oldest.aclose()
            return backend

    async def _login(self, credentials: Credentials) -> ClusterBackend:
        endpoint = self.sasl_listener
        cfg = self.broker.config
        if endpoint.security_protocol == "SASL_SSL" and self._ssl_context is None:
            from kafkalite.security.tls import client_context

            self._ssl_context = client_context(
                lambda key: cfg.listener_value(endpoint.listener, key), endpoint.listener)
        mechanisms = login_mechanisms(cfg.listener_value(endpoint.listener,
                                                         "sasl.enabled.mechanisms"))
        if not mechanisms:
            raise ApiError(503, f"listener {endpoint.listener} enables no SASL mechanism the "
                                "console can log in with (PLAIN, SCRAM-SHA-256/512)")
        ssl_context = self._ssl_context if endpoint.security_protocol == "SASL_SSL" else None
        for mechanism in mechanisms:
            backend = ClusterBackend(
                f"{endpoint.host}:{endpoint.port}",
                security=user_security(mechanism, credentials, ssl_context))
            try:
                await backend.authenticate()
                return backend
            except (errors.SaslAuthenticationFailed, errors.UnsupportedSaslMechanism,
                    errors.IllegalSaslState):
                await backend.aclose()
            except BaseException:
                with trio.CancelScope(shield=True):
                    await backend.aclose()
                raise
        log.info("web console: failed login for user %r", credentials.username)
        raise wrong_credentials()

    async def _backend_for(self, request: HttpRequest) -> tuple[ClusterBackend, str | None]:
        if not self.secured:
            return await self._system_backend(), None
        credentials = parse_basic(request.headers.get("authorization"))
        backend = await self._user_backend(credentials)
        backend.touch()
        return backend, credentials.username

    # --- HTTP --------------------------------------------------------------------------------

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path == "/api" or request.path.startswith("/api/")
        try:
            if request.method not in ("GET", "HEAD", "POST"):
                raise ApiError(405, f"{request.method} is not allowed",
                               headers=(("Allow", "GET, HEAD, POST"),))
            with trio.fail_after(_API_TIMEOUT_S):
                backend, user = await self._backend_for(request)
                if not api:
                    return self._static_file(request)
                match = self.router.match(request.method, request.target or request.path)
                if request.method == "POST":
                    self._check_write(request)
                self.sampler.wake()
                handler = getattr(self, f"_api_{match.name}")
                status, data = await handler(backend, user, match.params, request)
            return _json_response(data, status)
        except ApiError as e:
            return _error_response(e.status, e.message, headers=e.headers, api=api)
        except (errors.KafkaError, ClientError, trio.TooSlowError) as e:
            status = error_status(e)
            if isinstance(e, trio.TooSlowError):
                message = f"the cluster did not answer within {_API_TIMEOUT_S:g} s"
            else:
                message = str(e) or type(e).__name__
            kind = type(e).kafka_name() if isinstance(e, errors.KafkaError) else None
            if status == 401:
                err = wrong_credentials()
                return _error_response(401, err.message, headers=err.headers, api=api)
            return _error_response(status, message, kind=kind, api=api)

    def _static_file(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            raise ApiError(405, "POST is not allowed here", headers=(("Allow", "GET, HEAD"),))
        path = request.path
        name = "index.html" if path in ("/", "/index.html") else \
            path.removeprefix("/static/") if path.startswith("/static/") else None
        if name is None or "/" in name or name.startswith("."):
            raise ApiError(404, "not found")
        cached = self._static.get(name)
        if cached is None:
            file = STATIC_DIR / name
            if file.suffix not in _CONTENT_TYPES or not file.is_file():
                raise ApiError(404, "not found")
            cached = self._static[name] = (file.read_bytes(), _CONTENT_TYPES[file.suffix])
        body, content_type = cached
        return HttpResponse(200, body, content_type,
                            headers=(("Cache-Control", "no-cache"), *_SECURITY_HEADERS))

    def _check_write(self, request: HttpRequest) -> None:
        if self.read_only:
            raise ApiError(403, "the console is read-only: set console.read.only=false on "
                                "this broker to allow changes")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(400, "changes must be sent as Content-Type: application/json")
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise ApiError(403, f"refusing a change requested from another site ({origin})")

    @staticmethod
    def _body(request: HttpRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as e:
            raise ApiError(400, f"the request body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    # --- the API -----------------------------------------------------------------------------

    def _session(self, user: str | None) -> dict[str, Any]:
        return {"broker_id": self.broker.broker_id, "read_only": self.read_only,
                "secured": self.secured, "user": user}

    async def _api_overview(self, backend, user, params, request):
        md = await backend.metadata(None)
        leaders: dict[int, int] = {}
        replicas: dict[int, int] = {}
        partitions = under = offline = 0
        for t in md.topics.values():
            for p in t.partitions.values():
                partitions += 1
                under += len(p.isr) < len(p.replicas)
                offline += p.leader < 0
                if p.leader >= 0:
                    leaders[p.leader] = leaders.get(p.leader, 0) + 1
                for r in p.replicas:
                    replicas[r] = replicas.get(r, 0) + 1
        charts = self.sampler.brokers
        brokers = []
        for b in sorted(md.brokers.values(), key=lambda b: b.node_id):
            c = charts.get(b.node_id)
            brokers.append({"id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack,
                            "controller": b.node_id == md.controller_id,
                            "leaders": leaders.get(b.node_id, 0),
                            "replicas": replicas.get(b.node_id, 0),
                            "metrics_url": c.to_json()["metrics_url"] if c else None})
        return 200, {
            "cluster_id": md.cluster_id, "controller": md.controller_id, "brokers": brokers,
            "zookeeper_connect": self.broker.config["zookeeper.connect"],
            "versions": {"kafkalite": _package_version("kafkalite") or __version__,
                         "python": platform.python_version(),
                         "trio": _package_version("trio"), "kazoo": _package_version("kazoo")},
            "topics": sum(not t.is_internal for t in md.topics.values()),
            "internal_topics": sum(t.is_internal for t in md.topics.values()),
            "partitions": partitions, "under_replicated": under, "offline": offline,
            "session": self._session(user)}

    def _rates(self) -> dict[str, list[tuple[int, float]]]:
        return self.sampler.topic_rates()

    async def _api_topics(self, backend, user, params, request):
        topics = await backend.topics()
        rates = self._rates()
        for t in topics:
            series = rates.get(t["name"], [])
            t["rate"] = round(series[-1][1], 3) if series else None
            t["sparkline"] = [round(v, 3) for _, v in series]
        return 200, {"topics": topics, "session": self._session(user)}

    async def _api_topic(self, backend, user, params, request):
        topic = await backend.topic(params["topic"])
        topic["rate_series"] = [[t, round(v, 3)] for t, v in self._rates().get(topic["name"], [])]
        topic["session"] = self._session(user)
        return 200, topic

    async def _api_messages(self, backend, user, params, request):
        q = request.query
        partition = int_param(q, "partition", default=0, minimum=0)
        offset = int_param(q, "offset", minimum=0)
        timestamp = int_param(q, "timestamp", minimum=0)
        if offset is not None and timestamp is not None:
            raise ApiError(400, "give either 'offset' or 'timestamp', not both")
        limit = int_param(q, "limit", default=50, minimum=1, maximum=MAX_MESSAGES)
        fmt = q.get("format") or "auto"
        if fmt not in FORMATS:
            raise ApiError(400, f"'format' must be one of {', '.join(FORMATS)}, not {fmt!r}")
        return 200, await backend.messages(params["topic"], partition, offset=offset,
                                           timestamp=timestamp, limit=limit, fmt=fmt)

    async def _api_groups(self, backend, user, params, request):
        listed = await backend.groups.list_groups()
        results: list[dict[str, Any]] = [{} for _ in listed]

        async def one(i: int, group_id: str, state: str | None) -> None:
            try:
                results[i] = await backend.groups.summary(group_id, state)
            except (errors.KafkaError, ClientError) as e:
                results[i] = {"group": group_id, "state": state, "error": str(e)}

        async with trio.open_nursery() as nursery:
            for i, (group_id, state) in enumerate(listed):
                nursery.start_soon(one, i, group_id, state)
        return 200, {"groups": results, "session": self._session(user)}

    async def _api_group(self, backend, user, params, request):
        info = await backend.groups.describe(params["group"])
        info["offsets"] = await backend.groups.offsets(params["group"], info["members"])
        info["session"] = self._session(user)
        return 200, info

    async def _api_metrics(self, backend, user, params, request):
        if not self.sampler.brokers:   # first view: one sample now, so the page has brokers
            with trio.move_on_after(5):
                await self.sampler.sample_once()
        return 200, self.sampler.to_json()

    async def _api_create_topic(self, backend, user, params, request):
        body = self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not _TOPIC_NAME.match(name) or name in (".", ".."):
            raise ApiError(400, "a topic name is 1 to 249 of the characters a-z A-Z 0-9 . _ -")
        partitions = int_param(body, "partitions", default=-1, minimum=-1)
        replication = int_param(body, "replication_factor", default=-1, minimum=-1,
                                maximum=32767)
        if partitions == 0 or replication == 0:
            raise ApiError(400, "partitions and replication_factor must be positive "
                                "(or -1 for the broker default)")
        configs = body.get("configs") or {}
        if not isinstance(configs, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float, bool))
                for k, v in configs.items()):
            raise ApiError(400, "'configs' must map config names to values")
        configs = {k: str(v).lower() if isinstance(v, bool) else str(v)
                   for k, v in configs.items()}
        await backend.create_topic(name, partitions, replication, configs)
        log.info("web console: %s created topic %s", user or "the console", name)
        return 201, {"created": name}

    async def _api_delete_records(self, backend, user, params, request):
        body = self._body(request)
        partition = int_param(body, "partition", required=True, minimum=0)
        offset = int_param(body, "offset", required=True, minimum=-1)
        low = await backend.delete_records(params["topic"], partition, offset)
        log.info("web console: %s deleted records of %s-%d below %d", user or "the console",
                 params["topic"], partition, low)
        return 200, {"topic": params["topic"], "partition": partition, "low_watermark": low}

    async def _api_reset_offsets(self, backend, user, params, request):
        spec = ResetSpec.from_json(self._body(request))
        plan = await backend.groups.reset(params["group"], spec)
        log.info("web console: %s reset offsets of group %s to %s", user or "the console",
                 params["group"], spec.to)
        return 200, {"group": params["group"],
                     "offsets": [{"topic": tp.topic, "partition": tp.partition, "offset": o}
                                 for tp, o in sorted(plan.items(),
                                                     key=lambda i: (i[0].topic, i[0].partition))]}

