"""Logs the way Kafka writes them: the file split under ``LOG_DIR`` and the lines users grep for.

A broker started by ``kafka-server-start.sh`` with ``LOG_DIR`` set writes ``server.log``,
``controller.log``, ``state-change.log``, ``log-cleaner.log``, ``kafka-authorizer.log`` and an
empty ``kafka-request.log`` there, each line in log4j's ``[%d] %p %m (%c)%n``; stdout gets what
``server.log`` gets. ``-daemon`` sends stdout to ``$LOG_DIR/kafkaServer.out``.
"""

from __future__ import annotations

import re
import signal

from kafkalite.cli.cluster import broker_ready, free_port
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script, wait_for

LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) "
                  r".* \([\w.$]+\)$")
FILES = ["server.log", "controller.log", "state-change.log", "log-cleaner.log",
         "kafka-authorizer.log", "kafka-request.log"]


def test_one_broker_writes_kafkas_files(broker_factory, tmp_path):
    log_dir = tmp_path / "logs"
    b = broker_factory(0, env={"LOG_DIR": str(log_dir)})
    assert b.server_log_dir == log_dir
    assert sorted(p.name for p in log_dir.iterdir()) == sorted(FILES)
    server = b.server_log()
    assert "INFO [KafkaServer id=0] started (kafka.server.KafkaServer)" in server
    assert re.search(r"\] Registered broker 0 at path /brokers/ids/0 with addresses: "
                     r"PLAINTEXT://127\.0\.0\.1:\d+, czxid \(broker epoch\): \d+", server)
    assert "[SocketServer brokerId=0] Awaiting socket connections on 127.0.0.1:" in server
    controller = b.server_log("controller.log")
    assert re.search(r"INFO \[Controller id=0\] 0 successfully elected as the controller\. "
                     r"Epoch incremented to \d+ and epoch zk version is now \d+ "
                     r"\(kafka\.controller\.KafkaController\)", controller), controller
    assert "successfully elected" not in server   # additivity=false: controller.log only
    assert "INFO Starting the log cleaner (kafka.log.LogCleaner)" in \
        b.server_log("log-cleaner.log")

    create_topic(b.bootstrap, "grep-me", partitions=2)

    def state_changes():
        text = b.server_log("state-change.log")
        return "[Broker id=0] Leader grep-me-1 starts at leader epoch 0" in text and text
    changes = wait_for(state_changes, 30, "the state changes of grep-me")
    for p in (0, 1):
        assert (f"INFO [Controller id=0 epoch=1] Changed partition grep-me-{p} state from "
                f"NonExistentPartition to NewPartition with assigned replicas 0 "
                f"(state.change.logger)") in changes
        assert (f"INFO [Controller id=0 epoch=1] Changed partition grep-me-{p} from NewPartition "
                f"to OnlinePartition with state LeaderAndIsr(leader=0, leaderEpoch=0, "
                f"isr=List(0), zkVersion=0) (state.change.logger)") in changes
    assert re.search(r"\[Controller id=0 epoch=1\] Sending LeaderAndIsr request to broker 0 with "
                     r"2 become-leader and 0 become-follower partitions", changes)
    assert re.search(r"\[Broker id=0\] Handling LeaderAndIsr request correlationId \d+ from "
                     r"controller 0 epoch 1 for 2 partitions", changes)
    assert "Changed partition" not in b.server_log()
    assert re.search(r"INFO \[Log partition=grep-me-0, dir=\S+\] Completed load of log with 1 "
                     r"segments, log start offset 0 and log end offset 0 \(kafka\.log\.Log\)",
                     b.server_log())

    b.signal(signal.SIGTERM)
    assert b.proc.wait(60) == 0
    server = b.server_log()
    assert "INFO [KafkaServer id=0] shutting down (kafka.server.KafkaServer)" in server
    assert "INFO [KafkaServer id=0] shut down completed (kafka.server.KafkaServer)" in server
    assert b.server_log("kafka-request.log") == ""   # WARN by default: nothing
    for name in FILES:
        bad = [ln for ln in b.server_log(name).splitlines()
               if not LINE.match(ln) and not ln.startswith(("Traceback", " ", "\t"))]
        assert not bad, (name, bad[:3])
    # The stdout appender: the same lines as server.log, none of controller.log's.
    stdout = b.log_path.read_text()
    assert "[KafkaServer id=0] started (kafka.server.KafkaServer)" in stdout
    assert "successfully elected" not in stdout


def test_daemon_mode_writes_kafkaServer_out_and_the_files(zk_connect, tmp_path):
    log_dir = tmp_path / "daemon-logs"
    port = free_port()
    env = {"LOG_DIR": str(log_dir), "KAFKALITE_RUN_DIR": str(tmp_path / "run")}
    rc, out, err = run_script("kafka-server-start.sh", "-daemon",
                              str(tmp_path / "absent.properties"), env=env)
    assert rc != 0   # a properties file that does not exist is refused before detaching
    props = tmp_path / "server.properties"
    props.write_text(f"broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\n"
                     f"log.dirs={tmp_path / 'data'}\nzookeeper.connect={zk_connect}\n"
                     f"offsets.topic.replication.factor=1\n")
    rc, out, err = run_script("kafka-server-start.sh", "-daemon", str(props), env=env)
    assert rc == 0, err
    try:
        assert str(log_dir) in out
        wait_for(lambda: broker_ready("127.0.0.1", port, 0), 60, "the daemon broker")
        wait_for(lambda: "[KafkaServer id=0] started" in
                 (log_dir / "server.log").read_text(), 30, "the started line")
        assert "[KafkaServer id=0] started (kafka.server.KafkaServer)" in \
            (log_dir / "kafkaServer.out").read_text()
        assert "successfully elected" in (log_dir / "controller.log").read_text()
    finally:
        rc, _, err = run_script("kafka-server-stop.sh", env=env)
    assert rc == 0, err
    wait_for(lambda: "shut down completed" in (log_dir / "server.log").read_text(), 60,
             "the daemon broker to stop")


def test_isr_shrink_and_expand_lines_on_three_brokers(cluster3, kazoo_client):
    from confluent_kafka import Producer

    from kafkalite.testing.cluster_state import partition_state, wait_isr_full

    brokers = cluster3({"replica.lag.time.max.ms": 1000})
    create_topic(brokers[0].bootstrap, "lagging", partitions=1, replication_factor=3)
    wait_isr_full(kazoo_client, "lagging", [0])
    state = partition_state(kazoo_client, "lagging", 0)
    leader = brokers[state.leader]
    follower = next(b for b in brokers if b.broker_id != state.leader)
    isr = ",".join(map(str, state.isr))
    shrunk = ",".join(str(r) for r in state.isr if r != follower.broker_id)
    p = Producer({"bootstrap.servers": leader.bootstrap, "acks": 1, "linger.ms": 0})
    follower.signal(signal.SIGSTOP)   # shorter than the ZooKeeper session: only lag
    try:
        def shrinking():
            p.produce("lagging", b"x" * 100)
            p.flush(5)
            return f"Shrinking ISR from {isr} to {shrunk}." in leader.server_log()
        wait_for(shrinking, 20, "the leader to shrink the ISR", interval=0.2)
    finally:
        follower.signal(signal.SIGCONT)
    wait_for(lambda: f"Expanding ISR from {shrunk} to " in leader.server_log(), 30,
             "the follower back in the ISR")
    text = leader.server_log()
    assert re.search(
        rf"INFO \[Partition lagging-0 broker={leader.broker_id}\] Shrinking ISR from {isr} to "
        rf"{shrunk}\. Leader: \(highWatermark: \d+, endOffset: \d+\)\. Out of sync replicas: "
        rf"\(brokerId: {follower.broker_id}, endOffset: -?\d+\)\. \(kafka\.cluster\.Partition\)",
        text), text
    assert re.search(rf"\[Partition lagging-0 broker={leader.broker_id}\] ISR updated to "
                     rf"\[{shrunk}\] and zkVersion updated to \[\d+\]", text)


def test_request_and_authorizer_logs(broker_factory, tmp_path):
    """kafka-request.log fills once its logger is at DEBUG; kafka-authorizer.log has the
    authorizer's denials (INFO, on by default)."""
    from kafkalite.cli.cluster import REPO_ROOT

    log4j = tmp_path / "log4j.properties"
    log4j.write_text((REPO_ROOT / "config" / "log4j.properties").read_text().replace(
        "log4j.logger.kafka.request.logger=WARN", "log4j.logger.kafka.request.logger=DEBUG"))
    assert "kafka.request.logger=DEBUG" in log4j.read_text()
    log_dir = tmp_path / "logs"
    b = broker_factory(0, env={"LOG_DIR": str(log_dir),
                               "KAFKA_LOG4J_OPTS": f"-Dlog4j.configuration=file:{log4j}"},
                       props={"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
                              "allow.everyone.if.no.acl.found": "false"})
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 3000})
    producer.produce("guarded", b"x")
    producer.flush(5)

    def requests():
        text = b.server_log("kafka-request.log")
        return '"requestApiKeyName":"METADATA"' in text and text
    text = wait_for(requests, 30, "Metadata in kafka-request.log")
    line = next(ln for ln in text.splitlines() if '"requestApiKeyName":"METADATA"' in ln)
    assert re.search(r"DEBUG Completed request:\{.*\"principal\":\"User:ANONYMOUS\".*\} "
                     r"\(kafka\.request\.logger\)$", line), line
    denied = wait_for(lambda: "is Denied Operation" in b.server_log("kafka-authorizer.log")
                      and b.server_log("kafka-authorizer.log"), 30, "an authorizer denial")
    assert re.search(r"INFO Principal = User:ANONYMOUS is Denied Operation = \w+ from host = "
                     r"127\.0\.0\.1 on resource = Topic:LITERAL:guarded "
                     r"\(kafka\.authorizer\.logger\)", denied), denied
