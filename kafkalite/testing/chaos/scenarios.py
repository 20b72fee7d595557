"""Scripted faults with a known outcome, checked by the same checker as ``make chaos``.

:func:`acked_then_leader_killed` is the proof that the checker can fail. The followers of a
partition's leader are cut off from it (their fetches blackholed), the producer goes on, and
the leader is killed a few seconds later, before ``replica.lag.time.max.ms`` would have let it
drop the followers from the ISR; a follower then becomes leader cleanly (it is in the ISR),
without the records written after the cut, and the old leader truncates to it when it comes
back. A correct broker acknowledged none of those records (acks=all waits for the followers),
so nothing is lost. A broker built with ``KAFKALITE_TEST_UNSAFE_ACKS=1`` acknowledged them
after its own append, and the checker must report them lost.

:func:`unclean_election_after_isr_shrink` is the reliability matrix's R8 (the 2013 Jepsen
regression): ``min.insync.replicas=1`` and ``unclean.leader.election.enable=true``, the
followers cut off long enough to leave the ISR, the leader acknowledging alone, then killed.
The controller must elect an out-of-sync follower (an unclean election, counted by
``UncleanLeaderElectionsPerSec`` and logged as a WARN), and the records acknowledged by the
lone leader are lost: documented behaviour, which the checker must report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from kafkalite.testing.checker import Report
from kafkalite.testing.chaos.cluster import ChaosCluster
from kafkalite.testing.chaos.history import History
from kafkalite.testing.chaos.run import PARTITIONS, TOPIC, _wait, check_dir, create_topic
from kafkalite.testing.chaos.workload import IdempotentProducer, final_read

__all__ = ["acked_then_leader_killed", "unclean_election_after_isr_shrink"]


def _cut_then_kill_leader(outdir: Path, *, name: str, props: dict, broker_env: dict | None,
                          during_cut: Callable[[ChaosCluster, History, int, dict], None],
                          heal_before_election: bool, log: Callable[[str], None]) -> Report:
    """The shared script: cut the followers of partition 0's leader off from it (their fetches
    blackholed), let ``during_cut`` wait for what the scenario needs, kill the leader, wait for
    a new one, heal, restart the old leader, let the ISRs fill, read everything and check."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    history = History(outdir / "history.jsonl")
    cluster = ChaosCluster(outdir / "cluster", env=broker_env, props=props)
    producer = None
    meta: dict = {"scenario": name, "broker_env": broker_env or {}}
    try:
        cluster.start()
        create_topic(cluster.direct_bootstrap, TOPIC, PARTITIONS)
        assert _wait(lambda: cluster.isr_full({TOPIC: PARTITIONS}), 60), "ISRs never full"
        producer = IdempotentProducer("idem0", history, cluster.bootstrap, TOPIC, PARTITIONS,
                                      rate=60).start()
        assert _wait(lambda: history.count("ack") >= 100, 60), "no acknowledgements"
        leader = cluster.leader(TOPIC, 0)
        links = [f"peer-{f}-{leader}" for f in cluster.brokers if f != leader]
        history.record("fault", "nemesis", kind="cut-followers", phase="start",
                       broker=leader, links=links)
        cluster.net.set(links, "blackhole")
        during_cut(cluster, history, leader, meta)
        history.record("fault", "nemesis", kind="kill-leader", phase="start", broker=leader)
        cluster.brokers[leader].kill()
        if heal_before_election:
            cluster.net.heal(links)
        assert _wait(lambda: cluster.leader(TOPIC, 0) not in (None, -1, leader), 60), \
            "no new leader for partition 0"
        cluster.net.heal(links)
        cluster.brokers[leader].stop()
        assert _wait(lambda: cluster.registered(leader) is False, 30)
        cluster.brokers[leader].start()
        history.record("fault", "nemesis", kind="kill-leader", phase="end", broker=leader)
        assert _wait(lambda: cluster.isr_full({TOPIC: PARTITIONS}), 120), "ISRs never full"
        time.sleep(3)
        producer.stop()
        producer = None
        final_read(history, cluster.bootstrap, TOPIC, PARTITIONS)
        meta["unclean_warnings"] = sum(
            b.server_log("controller.log").count("UNCLEAN leader election")
            for b in cluster.brokers.values())
        log(f"scenario {name}: {meta}")
    finally:
        if producer is not None:
            producer.stopping.set()
        history.close()
        cluster.close()
    return check_dir(outdir, meta=meta)


def acked_then_leader_killed(outdir: Path, *, broker_env: dict | None = None,
                             log: Callable[[str], None] = print) -> Report:
    def during_cut(cluster, history, leader, meta):
        # Followers fetch nothing now: a correct leader acknowledges nothing more of its
        # partitions (the others keep going); give it time to.
        before = history.count("ack")
        time.sleep(6)
        meta["acks_during_cut"] = history.count("ack") - before

    # A long lag time: the followers stay in the ISR for the whole cut, so the election
    # after the kill is clean and the test does not race the ISR shrink.
    return _cut_then_kill_leader(outdir, name="acked_then_leader_killed",
                                 props={"replica.lag.time.max.ms": 60000},
                                 broker_env=broker_env, during_cut=during_cut,
                                 heal_before_election=False, log=log)


def unclean_election_after_isr_shrink(outdir: Path, *,
                                      log: Callable[[str], None] = print) -> Report:
    def during_cut(cluster, history, leader, meta):
        assert _wait(lambda: tuple(cluster.partition_state(TOPIC, 0).isr) == (leader,), 30), \
            "the leader never shrank the ISR to itself"
        before = history.count("ack")
        assert _wait(lambda: history.count("ack") - before >= 30, 30), \
            "the lone leader acknowledged nothing"
        meta["acks_by_lone_leader"] = history.count("ack") - before

    return _cut_then_kill_leader(outdir, name="unclean_election_after_isr_shrink", props={
        "replica.lag.time.max.ms": 2000, "min.insync.replicas": 1,
        "unclean.leader.election.enable": "true"}, broker_env=None, during_cut=during_cut,
        heal_before_election=True, log=log)
