"""make bench-cluster's pure parts: CPU from /proc stat lines, the failover clock, and the
figures and ratios of its report (no broker, no ZooKeeper)."""

from __future__ import annotations

import os

from kafkalite.cli.bench_cluster import (AckLog, collect, format_spread, load_passes,
                                         markdown_table, merge_passes, phase_figures,
                                         prewarm_page_pool, proc_stat_cpu_seconds,
                                         proc_stat_times, ratio_rows, scrape_fetch_figures,
                                         session_rows, with_skips)


def stat_line(comm: str, utime: int, stime: int) -> str:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    return f"4242 ({comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 {utime} {stime} 0 0 20 0 1 0"


def test_cpu_seconds_counted_from_the_last_parenthesis():
    assert proc_stat_cpu_seconds(stat_line("python3", 150, 50), clk_tck=100) == 2.0
    # a command name may contain spaces and parentheses
    assert proc_stat_cpu_seconds(stat_line("a b) S 9 9 (c", 7, 3), clk_tck=10) == 1.0


def test_user_and_system_times_apart():
    assert proc_stat_times(stat_line("a b) S 9 9 (c", 150, 50), clk_tck=100) == (1.5, 0.5)


def test_kernel_share_of_the_brokers_is_a_phase_figure():
    result = {"produce": {"acksall-none": {"msgs_per_s": 1e6, "cpu": {
        "broker_cores": 0.5, "cluster_cores": 1.0, "cluster_kernel_share": 0.42}}}}
    assert phase_figures(result)["produce acksall-none"]["cluster_kernel_share"] == 0.42


def test_prewarm_writes_then_leaves_nothing_behind(tmp_path, monkeypatch):
    written = []
    write = os.write

    def spy(fd, data):
        written.append(os.fstat(fd).st_size)
        return write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    assert prewarm_page_pool(tmp_path, 3) >= 0
    assert prewarm_page_pool(tmp_path, 0) == 0.0
    assert written == [0, 1 << 20, 2 << 20]   # three MB went to a file, none on the second call
    assert list(tmp_path.iterdir()) == []


def test_latency_runs_before_the_prewarm_in_a_run_of_its_own():
    both = load_passes(latency=True, prewarm_mb=3000)
    assert both == [(frozenset({"produce", "consume"}), False), (frozenset({"latency"}), True)]
    assert load_passes(latency=True, prewarm_mb=0) == [(frozenset(), True)]
    assert load_passes(latency=False, prewarm_mb=3000) == [(frozenset({"latency"}), True)]
    assert load_passes(latency=False, prewarm_mb=0) == [(frozenset({"latency"}), True)]


def test_skips_join_the_ones_already_given_in_one_option():
    args = ["h", "[0]", "--messages", "5", "--skip", "consume", "--size", "10"]
    assert with_skips(args, frozenset({"latency"})) == [
        "h", "[0]", "--messages", "5", "--size", "10", "--skip", "latency,consume"]
    assert with_skips(["--skip=consume,kcat", "-X", "a=b"], frozenset({"produce"})) == [
        "-X", "a=b", "--skip", "produce,consume,kcat"]
    assert with_skips(["--label", "x"], frozenset()) == ["--label", "x"]


def test_two_runs_merge_into_one_result():
    first = {"setup": {"topics": ["a"]}, "latency": {"e2e": {"p99_ms": 4.9}},
             "produce": {}, "consume": {}}
    second = {"setup": {"topics": ["b"]}, "latency": {}, "produce": {"acks1": {"n": 1}},
              "consume": {"acks1": {"n": 2}}}
    merged = merge_passes(first, second)
    assert merged["latency"] == {"e2e": {"p99_ms": 4.9}}
    assert merged["produce"] == {"acks1": {"n": 1}} and merged["consume"] == {"acks1": {"n": 2}}
    assert merged["setup"] == {"topics": ["b"]}
    assert second["latency"] == {}   # the inputs are left as they were


def test_cpu_seconds_of_this_process():
    with open(f"/proc/{os.getpid()}/stat") as f:
        own = proc_stat_cpu_seconds(f.read())
    t = os.times()
    assert abs(own - (t.user + t.system)) < 0.5


def test_first_ack_after_a_mark_is_of_a_message_produced_after_it():
    log = AckLog()
    log.record(0, 2_000_000)  # 2 ms produce-to-ack before the fault
    log.record(1_000_000, 5_000_000)
    log.mark("signal", 10_000_000)
    # in flight at the signal, acknowledged by the old leader: not the end of the failover
    log.record(9_000_000, 11_000_000)
    assert log.seconds_to_first_ack("signal") is None
    log.record(12_000_000, 7_010_000_000)
    log.record(10_000_000, 7_011_000_000)  # acknowledged later: the first one counts
    assert log.seconds_to_first_ack("signal") == 7.0
    assert log.ack_latency_before_ms("signal") == 3.0
    assert log.seconds_to_first_ack("exit") is None


def test_a_late_mark_finds_acks_already_recorded():
    log = AckLog()
    log.record(5, 20)
    log.record(15, 30)
    log.mark("exit", 10)  # the exit was noticed after the ack of a message produced after it
    assert log.first_ack == {"exit": 30}


def test_longest_gap_runs_from_the_mark_through_every_ack():
    log = AckLog()
    assert log.longest_gap_s("signal") is None
    log.mark("signal", 0)
    assert log.longest_gap_s("signal") is None
    for produced, acked in [(0, 100_000_000), (0, 200_000_000), (0, 1_700_000_000),
                            (0, 1_800_000_000)]:
        log.record(produced, acked)
    assert log.longest_gap_s("signal") == 1.5
    log.mark("late", 1_750_000_000)
    assert log.longest_gap_s("late") == 0.05


def test_median_min_max():
    assert format_spread([]) == "-"
    assert format_spread([1234.5]) == "1,234"
    assert format_spread([150_000, 90_000, 120_500.4]) == "120,500 (90,000–150,000)"
    assert format_spread([0.31, 0.25, 0.402]) == "0.31 (0.25–0.402)"


def result(rate: float, leader_cores: float, cluster_cores: float | None, consume: float):
    cpu = {"client_cores": 1.0, "broker_cores": leader_cores, "machine_busy_cores": 1.9}
    if cluster_cores is not None:
        cpu["cluster_cores"] = cluster_cores
    return {"produce": {"acks1-none": {"msgs_per_s": rate, "MB_per_s": rate / 1e4, "cpu": cpu}},
            "consume": {"acks1-none": {"msgs_per_s": consume, "MB_per_s": consume / 1e4,
                                       "cpu": {"broker_cores": 0.2}}}}


def test_phase_figures_per_message_cpu_of_leader_and_all_brokers():
    figs = phase_figures(result(100_000, 0.5, 0.8, 200_000))
    p = figs["produce acks1-none"]
    assert p["msgs_per_s"] == 100_000
    assert round(p["leader_cpu_us_per_msg"], 6) == 5.0
    assert round(p["cluster_cpu_us_per_msg"], 6) == 8.0
    assert round(p["other_cores"], 6) == 0.1  # 1.9 busy - 0.8 brokers - 1.0 client
    # one broker: peer_bench's broker is the whole cluster
    single = phase_figures(result(100_000, 0.5, None, 200_000))["produce acks1-none"]
    assert single["cluster_cpu_us_per_msg"] == single["leader_cpu_us_per_msg"]
    assert round(figs["consume acks1-none"]["cluster_cpu_us_per_msg"], 6) == 1.0


def test_ratios_are_of_medians_and_only_for_phases_measured_in_both_setups():
    single = [result(100_000, 0.5, None, 200_000), result(120_000, 0.5, None, 210_000),
              result(80_000, 0.5, None, 190_000)]
    cluster = [result(50_000, 0.5, 1.0, 100_000), result(60_000, 0.5, 1.2, 105_000)]
    for r in cluster:
        r["produce"]["acksall-none"] = r["produce"]["acks1-none"]
    figures = collect({"single": single, "cluster": cluster})
    assert figures["single"]["produce acks1-none"]["msgs_per_s"] == [100_000, 120_000, 80_000]
    rows = ratio_rows(figures, metrics=("msgs_per_s",))
    assert rows == [["acks=all RF=3 / acks=1 one broker", "0.55"],
                    ["acks=1 RF=3 / acks=1 one broker", "0.55"],
                    ["consume RF=3 / one broker", "0.51"]]


def test_markdown_table():
    assert markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |\n"


EXPOSITION = """\
# TYPE kafka_network_requestmetrics_requests_total counter
kafka_network_requestmetrics_requests_total{request="Produce",version="8"} 10
kafka_network_requestmetrics_requests_total{request="Produce",version="9"} 90
kafka_network_requestmetrics_requests_total{request="FetchFollower",version="11"} 25
kafka_network_requestmetrics_requestqueuetimems{request="Produce",quantile="0.5"} 3
# TYPE kafka_server_fetchsessioncache_numincrementalfetchsessions gauge
kafka_server_fetchsessioncache_numincrementalfetchsessions 2
kafka_server_fetchsessioncache_numincrementalfetchsessions_other 7
"""


def test_scrape_sums_versions_and_reads_the_session_gauge():
    assert scrape_fetch_figures(EXPOSITION) == {
        "Produce": 100.0, "FetchFollower": 25.0, "incremental_fetch_sessions": 2.0}
    # a broker without fetch sessions: no gauge, no figure
    assert "incremental_fetch_sessions" not in scrape_fetch_figures(EXPOSITION.replace(
        "numincrementalfetchsessions 2", "x 2"))


def test_session_figures_per_cluster_produce_phase():
    runs = []
    for fetches, sessions in ((50, 2.0), (80, 2.0)):
        r = result(50_000, 0.5, 1.0, 100_000)
        r["produce"]["acks1-none"]["cpu"].update(
            leader_requests={"Produce": 100.0, "FetchFollower": float(fetches)},
            incremental_fetch_sessions=sessions)
        runs.append(r)
    plain = result(50_000, 0.5, 1.0, 100_000)   # no metrics endpoint answered
    figures = collect({"cluster": runs + [plain]})
    assert figures["cluster"]["produce acks1-none"]["follower_fetches_per_produce"] == [0.5, 0.8]
    assert session_rows(figures) == [
        ["3 brokers, RF=3, min.insync=2", "produce acks1-none", "0.65 (0.5–0.8)", "2 (2–2)"]]
    assert session_rows(collect({"cluster": [plain]})) == []
