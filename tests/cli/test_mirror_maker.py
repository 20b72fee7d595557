"""kafka-mirror-maker.sh: Kafka's no-data-loss defaults and argument errors (no broker)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.cli.mirror_maker import main, mirror_maker_settings
from kafkalite.errors import ConfigError

CONSUMER = {"bootstrap.servers": "src:1", "group.id": "mm"}
PRODUCER = {"bootstrap.servers": "dst:1"}


def _settings(consumer=CONSUMER, producer=PRODUCER, **overrides):
    args = dict(consumer_props=consumer, producer_props=producer, whitelist="a.*,b",
                num_streams=2, offset_commit_interval_ms=1000, abort_on_send_failure="true")
    args.update(overrides)
    return mirror_maker_settings(**args)


def test_no_data_loss_defaults():
    s = _settings()
    assert (s.source, s.target, s.regex, s.group_id) == ("src:1", "dst:1", "a.*|b", "mm")
    assert s.num_streams == 2 and s.abort_on_send_failure and not s.sync
    assert s.consumer["enable_auto_commit"] is False and s.consumer["group_id"] == "mm"
    assert s.producer["acks"] == -1 and s.producer["delivery_timeout_ms"] == 2**31 - 1
    assert s.target_cluster["retry_timeout_ms"] == 2**31 - 1


def test_configs_may_override_the_defaults():
    s = _settings(consumer={**CONSUMER, "enable.auto.commit": "true"},
                  producer={**PRODUCER, "acks": "1", "producer.type": "sync"},
                  abort_on_send_failure="false")
    assert s.consumer["enable_auto_commit"] is True and s.producer["acks"] == 1
    assert s.sync and not s.abort_on_send_failure


@pytest.mark.parametrize("overrides, message", [
    (dict(whitelist=None), "whitelist must be specified"),
    (dict(whitelist="(x"), "Invalid expression syntax: (x"),
    (dict(consumer={"bootstrap.servers": "src:1"}), "valid group.id"),
    (dict(producer={}), "bootstrap.servers"),
    (dict(abort_on_send_failure="maybe"), "abort.on.send.failure"),
    (dict(num_streams=0), "--num.streams"),
])
def test_bad_settings(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _settings(**overrides)


def test_usage(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["--producer.config", "p"], prog_name="kafka-mirror-maker.sh")
    assert result.exit_code == 2 and 'Missing required argument "[consumer.config]"' in \
        result.output
    consumer = tmp_path / "c.properties"
    consumer.write_text("bootstrap.servers=src:1\ngroup.id=mm\n")
    producer = tmp_path / "p.properties"
    producer.write_text("bootstrap.servers=dst:1\n")
    result = runner.invoke(main, ["--consumer.config", str(consumer), "--producer.config",
                                  str(producer)])
    assert result.exit_code == 1 and "ERROR: whitelist must be specified" in result.output
    assert "partition assignment strategy of the mirror maker will change" in result.output
    result = runner.invoke(main, ["--consumer.config", str(consumer), "--producer.config",
                                  str(producer), "--include", "t", "--message.handler", "X"])
    assert result.exit_code == 2 and "not supported" in result.output
