"""A full disk under a partition leader (A8 R10; Kafka's log_dir_failure_test).

Three brokers, each with two log dirs, the second a small tmpfs (mounted by the chaos harness;
this test needs root). An idempotent acks=all producer writes to the topic while the tmpfs of a
partition's leader is filled to the last byte. Kafka's behaviour is expected: the leader's next
append fails with ENOSPC, that log dir goes offline (KAFKA_STORAGE_ERROR to producers, a
``/log_dir_event_notification``), the broker stays up and keeps serving its other dir, and the
controller moves the leadership and the ISR away from the replicas in the failed dir. Then
the space is freed and the broker restarted: its dir is recovered, it catches up, and the
Jepsen checker finds every acknowledged record, once, at its offset; the replicas end
byte-identical.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from kafkalite.cli.cluster import REPO_ROOT
from kafkalite.testing.chaos.cluster import ChaosCluster
from kafkalite.testing.chaos.history import History
from kafkalite.testing.chaos.run import PARTITIONS, TOPIC, _wait, check_dir, create_topic
from kafkalite.testing.chaos.workload import IdempotentProducer, final_read
from kafkalite.testing.checker import format_report
from kafkalite.testing.verifying import compare_replica_logs

pytestmark = [pytest.mark.zk, pytest.mark.slow]

OUTPUT = REPO_ROOT / "test-output" / "chaos" / "disk-full"


def replica_dirs(cluster: ChaosCluster, partition: int) -> dict[int, os.PathLike]:
    """Per broker, the log dir holding its replica of ``TOPIC-partition``."""
    out = {}
    for b, broker in cluster.brokers.items():
        for d in (broker.log_dir, cluster.small_dirs[b]):
            if (d / f"{TOPIC}-{partition}").is_dir():
                out[b] = d
    return out


def test_full_log_dir_moves_leadership_and_loses_nothing(zookeeper):
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs: run it as root (CI does)")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    history = History(OUTPUT / "history.jsonl")
    cluster = ChaosCluster(OUTPUT / "cluster", small_dir_mb=16)
    producer = None
    try:
        cluster.start()
        assert cluster.disk_full_possible, "no tmpfs mounted"
        create_topic(cluster.direct_bootstrap, TOPIC, PARTITIONS)
        assert _wait(lambda: cluster.isr_full({TOPIC: PARTITIONS}), 60)
        # A partition whose leader keeps it on the small dir.
        victims = [(p, cluster.leader(TOPIC, p)) for p in range(PARTITIONS)]
        victims = [(p, b) for p, b in victims
                   if (cluster.small_dirs[b] / f"{TOPIC}-{p}").is_dir()]
        assert victims, "no leader with its replica on the tmpfs dir"
        partition, leader = victims[0]
        others_on_big_dir = [p for p in range(PARTITIONS)
                             if (cluster.brokers[leader].log_dir / f"{TOPIC}-{p}").is_dir()]
        producer = IdempotentProducer("idem0", history, cluster.bootstrap, TOPIC, PARTITIONS,
                                      rate=60).start()
        assert _wait(lambda: history.count("ack") >= 100, 60)

        history.record("fault", "nemesis", kind="disk-full", phase="start", broker=leader,
                       partition=partition)
        filler = cluster.fill_small_dir(leader)

        def moved() -> bool:
            st = cluster.partition_state(TOPIC, partition)
            return st is not None and st.leader not in (-1, leader) and leader not in st.isr
        assert _wait(moved, 90), (f"leadership of {TOPIC}-{partition} did not leave broker "
                                  f"{leader}: {cluster.partition_state(TOPIC, partition)}\n"
                                  f"{cluster.brokers[leader].log_tail(30)}")
        # The broker is up and registered, and keeps the replicas of its other log dir in sync.
        assert cluster.alive(leader) and cluster.registered(leader)
        for p in others_on_big_dir:
            st = cluster.partition_state(TOPIC, p)
            assert leader in st.isr, (p, st)
        text = cluster.brokers[leader].log_tail(400)
        assert "Stopping serving replicas in dir" in text
        assert "No space left on device" in text
        acks = history.count("ack")
        assert _wait(lambda: history.count("ack") >= acks + 100, 60), "no acks after the move"

        filler.unlink()
        broker = cluster.brokers[leader]
        broker.signal(signal.SIGTERM)
        broker.proc.wait(60)
        broker.stop()
        broker.start()
        history.record("fault", "nemesis", kind="disk-full", phase="end", broker=leader)
        assert _wait(lambda: cluster.isr_full({TOPIC: PARTITIONS}), 120), "ISRs never full"
        time.sleep(2)
        producer.stop()
        producer = None
        final_read(history, cluster.bootstrap, TOPIC, PARTITIONS)
        for p in range(PARTITIONS):
            dirs = replica_dirs(cluster, p)
            assert _wait(lambda p=p, dirs=dirs: not compare_replica_logs(dirs, TOPIC, [p]), 60), \
                compare_replica_logs(dirs, TOPIC, [p])
    finally:
        if producer is not None:
            producer.stopping.set()
        history.close()
        cluster.close()
    report = check_dir(OUTPUT, meta={"scenario": "disk-full"})
    text = format_report(report)
    print(text)
    for data in OUTPUT.glob("cluster/broker-*/logs"):
        shutil.rmtree(data, ignore_errors=True)
    assert report.ok, text
    assert report.acked >= 300, text
