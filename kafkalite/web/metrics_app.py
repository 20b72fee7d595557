"""``GET /metrics``: Kafka's JMX metrics under jmx_exporter's names, plus kafka_exporter's.

Series names are what jmx_exporter's ``kafka-2_0_0.yml`` makes of Kafka's MBeans (see
``registry.py``), so dashboards built for Kafka read us unchanged. What users otherwise run
kafka_exporter or Burrow for is here too, split so that a Prometheus summing over brokers
counts each thing once:

- ``kafka_topic_partition_*`` come from each partition's leader;
- ``kafka_consumergroup_*`` come from each group's coordinator; the log end of partitions led
  elsewhere is asked of their leaders with one ListOffsets per broker per scrape (Kafka's
  exporter asks every broker the same way);
- ``kafka_brokers`` and the controller's gauges are the same on every broker / only non-zero
  on the active controller, as in Kafka.

States are read when scraped; the hot paths only count events (``broker_metrics.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import trio

from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic)
from kafkalite.server.inter_broker import InterBrokerChannels
from kafkalite.web.broker_metrics import TopicStats
from kafkalite.web.http import HttpRequest, HttpResponse
from kafkalite.web.registry import Exposition

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["MetricsApp", "collect"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LIST_OFFSETS_VERSION = 1
_REMOTE_TIMEOUT_S = 5.0

# BrokerTopicMetrics: jmx_exporter's name part -> TopicStats field
_TOPIC_METERS = (
    ("messagesin", "messages_in"), ("bytesin", "bytes_in"), ("bytesout", "bytes_out"),
    ("bytesrejected", "bytes_rejected"), ("failedproducerequests", "failed_produce_requests"),
    ("failedfetchrequests", "failed_fetch_requests"),
    ("totalproducerequests", "total_produce_requests"),
    ("totalfetchrequests", "total_fetch_requests"),
)
_REQUEST_TIMERS = (("totaltimems", "total"), ("requestqueuetimems", "queue"),
                   ("localtimems", "local"), ("remotetimems", "remote"),
                   ("responsesendtimems", "send"))


class MetricsApp:
    def __init__(self, broker: "Broker"):
        self.broker = broker
        # Its own connections: a scrape never queues behind (or ahead of) the controller's
        # requests on the broker's inter-broker channels.
        self.channels = InterBrokerChannels(
            f"broker-{broker.broker_id}-metrics", broker.broker_address,
            request_timeout_s=_REMOTE_TIMEOUT_S, security=broker.inter_broker_security)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponse.text("only GET\n", 405)
        if request.path == "/metrics":
            text = await collect(self.broker, self.channels)
            return HttpResponse(200, text.encode(), CONTENT_TYPE)
        if request.path == "/":
            return HttpResponse.text("kafkalite broker metrics: GET /metrics\n")
        return HttpResponse.text("not found\n", 404)


async def collect(broker: "Broker", channels: InterBrokerChannels | None = None) -> str:
    out = Exposition()
    _broker_topic_metrics(out, broker)
    _request_metrics(out, broker)
    _replica_manager(out, broker)
    _fetch_sessions(out, broker)
    _controller(out, broker)
    _server(out, broker)
    _logs(out, broker)
    _topic_partitions(out, broker)
    await _consumer_groups(out, broker, channels)
    return out.render()


def _broker_topic_metrics(out: Exposition, broker: "Broker") -> None:
    m = broker.metrics
    known = broker.metadata.topics
    for topic in [t for t in m.topics if t not in known]:
        m.forget_topic(topic)  # deleted: its series end, the totals keep it
    rows: list[tuple[dict, TopicStats]] = [({}, m.all_topics)]
    rows += [({"topic": t}, s) for t, s in sorted(m.topics.items())]
    for part, field in _TOPIC_METERS:
        name = f"kafka_server_brokertopicmetrics_{part}_total"
        out.many("counter", name, ((labels, getattr(s, field)) for labels, s in rows))


def _request_metrics(out: Exposition, broker: "Broker") -> None:
    requests = sorted(broker.metrics.requests.items())
    out.many("counter", "kafka_network_requestmetrics_requests_total",
             (({"request": name, "version": v}, n)
              for name, stats in requests for v, n in sorted(stats.by_version.items())))
    for part, field in _REQUEST_TIMERS:
        for name, stats in requests:
            out.timer(f"kafka_network_requestmetrics_{part}", getattr(stats, field),
                      {"request": name})


def _replica_manager(out: Exposition, broker: "Broker") -> None:
    rm = broker.replica_manager
    partitions = list(rm.partitions.values()) if rm is not None else []
    leaders = [p for p in partitions if p.is_leader]
    under = at_min = under_min = 0
    for p in leaders:
        isr, min_isr = len(p.isr), p.log.config.min_insync_replicas
        under += isr < len(p.replicas)
        under_min += isr < min_isr
        at_min += isr == min_isr
    g = "kafka_server_replicamanager_"
    out.gauge(g + "partitioncount", len(partitions))
    out.gauge(g + "leadercount", len(leaders))
    out.gauge(g + "underreplicatedpartitions", under)
    out.gauge(g + "underminisrpartitioncount", under_min)
    out.gauge(g + "atminisrpartitioncount", at_min)
    out.counter(g + "isrshrinks_total", rm.isr_shrinks if rm else 0)
    out.counter(g + "isrexpands_total", rm.isr_expands if rm else 0)
    for kind in ("Produce", "Fetch"):
        out.gauge("kafka_server_delayedoperationpurgatory_purgatorysize",
                  rm.delayed[kind] if rm else 0, {"delayedOperation": kind})


def _fetch_sessions(out: Exposition, broker: "Broker") -> None:
    """Kafka's FetchSessionCache MBeans (KIP-227): sessions and partitions cached now, and
    sessions evicted so far (a meter in Kafka, hence jmx_exporter's ``_total``)."""
    cache = broker.fetch_sessions
    g = "kafka_server_fetchsessioncache_"
    out.gauge(g + "numincrementalfetchsessions", len(cache))
    out.gauge(g + "numincrementalfetchpartitionscached", cache.num_partitions)
    out.counter(g + "incrementalfetchsessionevictions_total", cache.evictions)


def _controller(out: Exposition, broker: "Broker") -> None:
    controller = broker.controller
    active = controller is not None
    topics = partitions = offline = 0
    if active:
        ctx = controller.ctx
        topics = len(ctx.assignments)
        partitions = sum(len(parts) for parts in ctx.assignments.values())
        offline = sum(1 for tp, lead in ctx.leadership.items()
                      if lead.leader not in ctx.live_brokers
                      and tp.topic not in ctx.topics_to_delete)
    c = "kafka_controller_kafkacontroller_"
    out.gauge(c + "activecontrollercount", int(active))
    out.gauge(c + "globaltopiccount", topics)
    out.gauge(c + "globalpartitioncount", partitions)
    out.gauge(c + "offlinepartitionscount", offline)
    m = broker.metrics
    out.counter("kafka_controller_controllerstats_uncleanleaderelections_total",
                m.unclean_elections)
    out.timer("kafka_controller_controllerstats_leaderelectionrateandtimems",
              m.leader_elections)


def _server(out: Exposition, broker: "Broker") -> None:
    m = broker.metrics
    out.gauge("kafka_server_kafkaserver_brokerstate", int(broker.state))
    out.counter("kafka_server_sessionexpirelistener_zookeeperexpires_total", m.zk_expires)
    out.counter("kafka_server_sessionexpirelistener_zookeeperdisconnects_total",
                m.zk_disconnects)
    idle = m.idle.idle_fraction()
    out.gauge("kafka_network_socketserver_networkprocessoravgidlepercent", idle)
    # A Yammer meter marked with idle nanoseconds: rate() of it / 1e9 is the idle fraction.
    out.counter("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
                int(m.idle.idle_s * 1e9))


def _logs(out: Exposition, broker: "Broker") -> None:
    rm = broker.replica_manager
    if rm is None:
        return
    rows = []
    for tp, p in sorted(rm.partitions.items()):
        lg = p.log
        rows.append(({"topic": tp.topic, "partition": tp.partition}, lg))
    out.many("gauge", "kafka_log_log_size", ((k, lg.size) for k, lg in rows))
    out.many("gauge", "kafka_log_log_logendoffset", ((k, lg.log_end_offset) for k, lg in rows))
    out.many("gauge", "kafka_log_log_logstartoffset",
             ((k, lg.log_start_offset) for k, lg in rows))
    out.many("gauge", "kafka_log_log_numlogsegments",
             ((k, len(lg.segments)) for k, lg in rows))


def _topic_partitions(out: Exposition, broker: "Broker") -> None:
    """kafka_exporter's topic series, from the leaders (each partition counted once)."""
    out.gauge("kafka_brokers", len(broker.metadata.brokers))
    rm = broker.replica_manager
    if rm is None:
        return
    led = [(tp, p) for tp, p in sorted(rm.partitions.items()) if p.is_leader]
    k = [{"topic": tp.topic, "partition": tp.partition} for tp, _ in led]
    ps = [p for _, p in led]
    out.many("gauge", "kafka_topic_partition_current_offset",
             zip(k, (p.high_watermark for p in ps)))
    out.many("gauge", "kafka_topic_partition_oldest_offset",
             zip(k, (p.log_start_offset for p in ps)))
    out.many("gauge", "kafka_topic_partition_in_sync_replica", zip(k, (len(p.isr) for p in ps)))
    out.many("gauge", "kafka_topic_partition_replicas", zip(k, (len(p.replicas) for p in ps)))
    out.many("gauge", "kafka_topic_partition_leader", zip(k, (broker.broker_id for _ in ps)))
    out.many("gauge", "kafka_topic_partition_leader_is_preferred",
             zip(k, (int(bool(p.replicas) and p.replicas[0] == broker.broker_id) for p in ps)))
    out.many("gauge", "kafka_topic_partition_under_replicated_partition",
             zip(k, (int(len(p.isr) < len(p.replicas)) for p in ps)))


async def _consumer_groups(out: Exposition, broker: "Broker",
                           channels: InterBrokerChannels | None) -> None:
    """Lag of the groups this broker coordinates: high watermark − committed offset, as
    kafka_exporter and Burrow compute it."""
    coordinator = broker.coordinator
    if coordinator is None:
        return
    machine = coordinator.machine
    groups = [g for _, g in sorted(machine.groups.items()) if g.partition in machine.owned]
    committed = {(g.group_id, tp): c.offset for g in groups for tp, c in g.offsets.items()}
    ends = await end_offsets(broker, {tp for _, tp in committed}, channels)
    rows = []
    for (group, tp), offset in sorted(committed.items()):
        rows.append(({"consumergroup": group, "topic": tp.topic, "partition": tp.partition},
                     offset, ends.get(tp)))
    out.many("gauge", "kafka_consumergroup_current_offset", ((k, o) for k, o, _ in rows))
    out.many("gauge", "kafka_consumergroup_lag",
             ((k, max(0, end - o)) for k, o, end in rows if end is not None))
    sums: dict[tuple[str, str], int] = {}
    for k, o, end in rows:
        if end is not None:
            key = (k["consumergroup"], k["topic"])
            sums[key] = sums.get(key, 0) + max(0, end - o)
    out.many("gauge", "kafka_consumergroup_lag_sum",
             (({"consumergroup": g, "topic": t}, v) for (g, t), v in sorted(sums.items())))
    out.many("gauge", "kafka_consumergroup_members",
             (({"consumergroup": g.group_id}, len(g.members)) for g in groups))


async def end_offsets(broker: "Broker", tps: Iterable[TopicPartition],
                      channels: InterBrokerChannels | None = None) -> dict[TopicPartition, int]:
    """High watermarks: local leaders read directly, the rest with ListOffsets (latest) to
    each leader named by the metadata cache, all leaders asked at once. Partitions whose
    leader is unknown or does not answer in time are left out."""
    rm = broker.replica_manager
    out: dict[TopicPartition, int] = {}
    remote: dict[int, list[TopicPartition]] = {}
    for tp in tps:
        p = rm.partitions.get(tp) if rm is not None else None
        if p is not None and p.is_leader:
            out[tp] = p.high_watermark
            continue
        meta = broker.metadata.partition(tp)
        if meta is not None and meta.leader >= 0 and meta.leader != broker.broker_id:
            remote.setdefault(meta.leader, []).append(tp)

    async def ask(leader: int, wanted: list[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in wanted:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=tuple(
            ListOffsetsTopic(name=t, partitions=tuple(
                ListOffsetsPartition(partition_index=p, timestamp=-1) for p in sorted(ps)))
            for t, ps in sorted(by_topic.items())))
        try:
            if channels is None:
                header = RequestHeader(int(ApiKey.LIST_OFFSETS), _LIST_OFFSETS_VERSION, 0,
                                       f"broker-{broker.broker_id}")
                resp = await broker.send_to_broker(leader, header, request)
            else:
                resp = await channels.send(leader, request, _LIST_OFFSETS_VERSION)
        except Exception as e:  # noqa: BLE001 - a down leader only hides its lag
            log.debug("metrics: ListOffsets to broker %d failed: %r", leader, e)
            return
        for t in resp.topics:
            for p in t.partitions:
                if p.error_code == 0:
                    out[TopicPartition(t.name, p.partition_index)] = p.offset

    if remote:
        with trio.move_on_after(_REMOTE_TIMEOUT_S):
            async with trio.open_nursery() as nursery:
                for leader, wanted in remote.items():
                    nursery.start_soon(ask, leader, wanted)
    return out
