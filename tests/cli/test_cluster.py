"""Where ``make cluster`` puts each broker: the shipped config files and their listeners."""

from __future__ import annotations

from kafkalite.cli.cluster import CONFIG_DIR, _listener
from kafkalite.config import load_properties


def test_shipped_files_describe_three_brokers_that_agree_on_shared_settings():
    files = [CONFIG_DIR / "server.properties", CONFIG_DIR / "server-1.properties",
             CONFIG_DIR / "server-2.properties"]
    props = [load_properties(str(f)) for f in files]
    assert [p["broker.id"] for p in props] == ["0", "1", "2"]
    assert [_listener(f, 0) for f in files] == [("localhost", 9092), ("localhost", 9093),
                                                ("localhost", 9094)]
    assert [p["log.dirs"] for p in props] == ["/tmp/kafka-logs", "/tmp/kafka-logs-1",
                                              "/tmp/kafka-logs-2"]
    assert [(p["metrics.listener"], p["console.listener"]) for p in props] == [
        (f"http://localhost:{9404 + i}", f"http://localhost:{9480 + i}") for i in range(3)]
    own = {"broker.id", "listeners", "log.dirs", "metrics.listener", "console.listener"}
    shared = [{k: v for k, v in p.items() if k not in own} for p in props]
    assert shared[0] == shared[1] == shared[2]
    assert shared[0]["offsets.topic.replication.factor"] == "1"  # one broker still works


def test_listener_of_a_file(tmp_path):
    f = tmp_path / "s.properties"
    f.write_text("listeners=PLAINTEXT://:9999,OTHER://h:1\n")
    assert _listener(f, 9092) == ("localhost", 9999)
    f.write_text("broker.id=3\n")
    assert _listener(f, 9095) == ("localhost", 9095)
    assert _listener(None, 9093) == ("localhost", 9093)


def test_what_make_cluster_prints_for_a_broker(tmp_path):
    from kafkalite.cli.cluster import BrokerProcess, _describe, _http_urls

    assert _http_urls({"metrics.listener": "http://localhost:9404",
                       "console.listener": "http://:9480"}) == [
        ("metrics", "http://localhost:9404/metrics"), ("console", "http://localhost:9480/")]
    assert _http_urls({"metrics.listener": "", "console.listener": "ftp://x"}) == []
    b = BrokerProcess(broker_id=1, zk_connect="zk:2181", workdir=tmp_path / ".cluster" / "b1",
                      port=9093, host="localhost",
                      properties_template=CONFIG_DIR / "server-1.properties",
                      env={"LOG_DIR": str(tmp_path / ".cluster" / "b1" / "logs")})
    b.proc = type("P", (), {"pid": 4242})()
    assert _describe(b, tmp_path).splitlines() == [
        "broker 1 listening on PLAINTEXT://localhost:9093 (pid 4242)",
        "  metrics  http://localhost:9405/metrics",
        "  console  http://localhost:9481/",
        "  logs     .cluster/b1/logs/ (server.log, controller.log, state-change.log, "
        "log-cleaner.log); stdout in .cluster/b1/broker.log"]
    assert b.env["LOG_DIR"] == str(tmp_path / ".cluster" / "b1" / "logs")


def test_a_broker_process_logs_beside_its_workdir_by_default(tmp_path):
    from kafkalite.cli.cluster import BrokerProcess

    b = BrokerProcess(broker_id=0, zk_connect="zk:2181", workdir=tmp_path)
    assert b.env["LOG_DIR"] == str(tmp_path / "server-logs") == str(b.server_log_dir)
    assert b.server_log() == ""
