"""The console's Prometheus text reader, against hand-written text and the broker's own output."""

from __future__ import annotations

import math

from kafkalite.web.prometheus_text import parse_samples, total, value_of
from kafkalite.web.registry import Exposition, Timer

TEXT = r'''# HELP kafka_server_brokertopicmetrics_messagesin_total Messages in
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total 42
kafka_server_brokertopicmetrics_messagesin_total{topic="orders"} 40
kafka_server_brokertopicmetrics_messagesin_total{topic="a \"quoted\" \\ name\nx"} 2
kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"} 12.5 1700000000000
kafka_network_requestmetrics_totaltimems_count{request="Produce", } 7
odd_values{kind="nan"} NaN
odd_values{kind="inf"} +Inf
odd_values{kind="minf"} -Inf
this is not a sample line
broken{label="unterminated} 1
'''


def test_samples_labels_and_escapes():
    samples = parse_samples(TEXT)
    names = [s.name for s in samples]
    assert names.count("kafka_server_brokertopicmetrics_messagesin_total") == 3
    assert samples[2].labels == {"topic": 'a "quoted" \\ name\nx'}
    assert value_of(samples, "kafka_network_requestmetrics_totaltimems", request="Produce",
                    quantile="0.99") == 12.5  # the trailing timestamp is ignored
    assert value_of(samples, "kafka_network_requestmetrics_totaltimems_count",
                    request="Produce") == 7
    assert value_of(samples, "kafka_network_requestmetrics_totaltimems_count",
                    request="Fetch") is None


def test_special_values_and_skipped_lines():
    samples = parse_samples(TEXT)
    odd = {s.labels["kind"]: s.value for s in samples if s.name == "odd_values"}
    assert math.isnan(odd["nan"]) and odd["inf"] == math.inf and odd["minf"] == -math.inf
    assert "this" not in {s.name for s in samples}   # a bare word with no value
    assert "broken" not in {s.name for s in samples}


def test_total_prefers_the_unlabelled_sample_else_sums_per_topic():
    samples = parse_samples(TEXT)
    assert total(samples, "kafka_server_brokertopicmetrics_messagesin_total") == 42
    per_topic_only = [s for s in samples if s.labels.get("topic")]
    assert total(per_topic_only, "kafka_server_brokertopicmetrics_messagesin_total") == 42
    assert total(samples, "absent_total") is None


def test_reads_what_the_metrics_endpoint_writes():
    exposition = Exposition()
    exposition.counter("kafka_server_brokertopicmetrics_bytesout_total", 1234)
    exposition.counter("kafka_server_brokertopicmetrics_bytesout_total", 1000,
                       {"topic": 'we"ird'})
    timer = Timer()
    for v in (1.0, 2.0, 3.0):
        timer.update(v)
    exposition.timer("kafka_network_requestmetrics_totaltimems", timer, {"request": "Produce"})
    samples = parse_samples(exposition.render())
    assert total(samples, "kafka_server_brokertopicmetrics_bytesout_total") == 1234
    assert value_of(samples, "kafka_server_brokertopicmetrics_bytesout_total",
                    topic='we"ird') == 1000
    assert value_of(samples, "kafka_network_requestmetrics_totaltimems_count",
                    request="Produce") == 3
    assert value_of(samples, "kafka_network_requestmetrics_totaltimems", request="Produce",
                    quantile="0.99") == 3.0
