"""The broker's logging: which log4j file, LOG_DIR, and our logger names mapped onto Kafka's."""

from __future__ import annotations

import io
import logging

import pytest

from kafkalite.cli.logs import (KAFKA_LOGGERS, REPO_LOG4J, configure_broker_logging,
                                configure_logging, kafka_logger_for, log4j_config_path)

pytestmark = pytest.mark.usefixtures("saved_logging")


def lines(path) -> list[str]:
    """The lines of a log file without their timestamps."""
    return [ln.split("] ", 1)[1] for ln in path.read_text().splitlines() if ln.startswith("[")]


def test_mapping_by_longest_module_prefix():
    assert kafka_logger_for("kafkalite.server.broker") == \
        ("kafka.server.KafkaServer", "[KafkaServer id={id}] ")
    assert kafka_logger_for("kafkalite.controller")[0] == "kafka.controller.KafkaController"
    assert kafka_logger_for("kafkalite.controller.service.channel")[0] == \
        "kafka.controller.ControllerChannelManager"
    assert kafka_logger_for("kafkalite.storage.log") == ("kafka.log.Log", None)
    assert kafka_logger_for("kafkalite.storage.log_loader") == ("kafka.log.Log", None)
    assert kafka_logger_for("kafkalite.storage.cleaner")[0] == "kafka.log.LogCleaner"
    assert kafka_logger_for("kafkalite.server.cleaner_service")[0] == "kafka.log.LogCleaner"
    assert kafka_logger_for("kafkalite.replication.partition")[0] == "kafka.cluster.Partition"
    assert kafka_logger_for("kafkalite.coordinator.transaction.service")[0] == \
        "kafka.coordinator.transaction.TransactionCoordinator"
    assert kafka_logger_for("kafkalite.coordinator.machine")[0] == \
        "kafka.coordinator.group.GroupCoordinator"
    assert kafka_logger_for("kafkalite.web.http") is None
    assert kafka_logger_for("kafkalite.client.consumer") is None
    for module, (name, ident) in KAFKA_LOGGERS.items():
        assert module.startswith("kafkalite.") and name.startswith("kafka."), module
        assert ident is None or ident.endswith(" "), module


def test_the_broker_logs_kafkas_files_with_kafkas_names(tmp_path):
    out = io.StringIO()
    log_dir, used = configure_broker_logging(None, 3, env={"LOG_DIR": str(tmp_path)},
                                             stdout=out)
    assert (log_dir, used) == (tmp_path, REPO_LOG4J)
    logging.getLogger("kafkalite.server.broker").info("started")
    logging.getLogger("kafkalite.server.broker").info("[KafkaServer id=%d] shut down completed", 3)
    logging.getLogger("kafkalite.server.network").warning("Unexpected error from /%s; closing "
                                                          "connection", "127.0.0.1")
    logging.getLogger("kafkalite.controller").info("%d successfully elected as the controller",
                                                   3)
    logging.getLogger("kafkalite.controller").debug("controller debug (TRACE in log4j)")
    logging.getLogger("state.change.logger").info("[Broker id=3] Handling LeaderAndIsr")
    logging.getLogger("kafkalite.storage.cleaner").info("Cleaner 0: Beginning cleaning")
    logging.getLogger("kafkalite.replication.partition").info(
        "[Partition t-0 broker=3] Expanding ISR from 3 to 3,4")
    logging.getLogger("kafkalite.web.http").warning("no Kafka counterpart")
    logging.getLogger("kafkalite.replication.service").debug("below INFO")

    server = lines(tmp_path / "server.log")
    assert server == [
        "INFO [KafkaServer id=3] started (kafka.server.KafkaServer)",
        "INFO [KafkaServer id=3] shut down completed (kafka.server.KafkaServer)",
        "WARN [SocketServer brokerId=3] Unexpected error from /127.0.0.1; closing connection "
        "(kafka.network.SocketServer)",
        "INFO [Partition t-0 broker=3] Expanding ISR from 3 to 3,4 (kafka.cluster.Partition)",
        "WARN no Kafka counterpart (kafkalite.web.http)",
    ]
    assert [ln.split("] ", 1)[1] for ln in out.getvalue().splitlines()] == server
    assert lines(tmp_path / "controller.log") == [
        "INFO [Controller id=3] 3 successfully elected as the controller "
        "(kafka.controller.KafkaController)",
        "DEBUG [Controller id=3] controller debug (TRACE in log4j) "
        "(kafka.controller.KafkaController)"]
    assert lines(tmp_path / "state-change.log") == [
        "INFO [Broker id=3] Handling LeaderAndIsr (state.change.logger)"]
    assert lines(tmp_path / "log-cleaner.log") == [
        "INFO Cleaner 0: Beginning cleaning (kafka.log.LogCleaner)"]
    assert (tmp_path / "kafka-request.log").read_text() == ""
    assert (tmp_path / "kafka-authorizer.log").exists()
    # Disabled levels stop at our own logger, before any record is made.
    assert not logging.getLogger("kafkalite.replication.service").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("kafkalite.controller.service.core").isEnabledFor(logging.DEBUG)


def test_kafkalite_log_level_overrides_the_root_and_kafka_levels(tmp_path):
    configure_broker_logging(None, 0, stdout=io.StringIO(),
                             env={"LOG_DIR": str(tmp_path), "KAFKALITE_LOG_LEVEL": "debug"})
    logging.getLogger("kafkalite.replication.service").debug("now visible")
    logging.getLogger("kafkalite.web.http").debug("this too")
    assert lines(tmp_path / "server.log") == [
        "DEBUG [ReplicaManager broker=0] now visible (kafka.server.ReplicaManager)",
        "DEBUG this too (kafkalite.web.http)"]
    assert (tmp_path / "kafka-request.log").read_text() == ""


def test_which_log4j_file(tmp_path):
    props = tmp_path / "conf" / "server.properties"
    props.parent.mkdir()
    props.write_text("broker.id=0\n")
    assert log4j_config_path(props, {}) == REPO_LOG4J
    beside = props.parent / "log4j.properties"
    beside.write_text("log4j.rootLogger=INFO\n")
    assert log4j_config_path(props, {}) == beside
    opts = {"KAFKA_LOG4J_OPTS": "-Dfoo=bar -Dlog4j.configuration=file:/etc/kafka/l.properties"}
    assert str(log4j_config_path(props, opts)) == "/etc/kafka/l.properties"


def test_kafka_log4j_opts_file_and_variables(tmp_path):
    custom = tmp_path / "custom.properties"
    custom.write_text("log4j.rootLogger=WARN, file\n"
                      "log4j.appender.file=org.apache.log4j.FileAppender\n"
                      "log4j.appender.file.File=${kafka.logs.dir}/${name}.log\n"
                      "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
                      "log4j.appender.file.layout.ConversionPattern=%p %c %m%n\n")
    env = {"LOG_DIR": str(tmp_path / "ignored"),
           "KAFKA_LOG4J_OPTS": f"-Dlog4j.configuration=file:{custom} -Dname=broker "
                               f"-Dkafka.logs.dir={tmp_path / 'here'}"}
    log_dir, used = configure_broker_logging(None, 0, env=env)
    assert (log_dir, used) == (tmp_path / "here", custom)
    logging.getLogger("kafkalite.server.broker").info("not at WARN")
    logging.getLogger("kafkalite.server.broker").warning("warned")
    assert (tmp_path / "here" / "broker.log").read_text() == \
        "WARN kafka.server.KafkaServer [KafkaServer id=0] warned\n"


def test_an_unreadable_file_falls_back_to_the_built_in_configuration(tmp_path, capsys):
    env = {"LOG_DIR": str(tmp_path),
           "KAFKA_LOG4J_OPTS": f"-Dlog4j.configuration=file:{tmp_path / 'missing'}"}
    _, used = configure_broker_logging(None, 0, env=env, stdout=io.StringIO())
    assert used is None
    assert "log4j:ERROR Could not read configuration file" in capsys.readouterr().err
    logging.getLogger("kafkalite.controller").info("elected")
    assert lines(tmp_path / "controller.log") == [
        "INFO [Controller id=0] elected (kafka.controller.KafkaController)"]


def test_the_tools_layout(monkeypatch):
    monkeypatch.delenv("KAFKALITE_LOG_LEVEL", raising=False)
    err = io.StringIO()
    configure_logging(stream=err)
    logging.getLogger("kafkalite.client.group").warning("group %s: rebalance", "g")
    logging.getLogger("kafkalite.client.group").debug("hidden")
    assert err.getvalue().split("] ", 1)[1] == "WARN group g: rebalance (kafkalite.client.group)\n"
