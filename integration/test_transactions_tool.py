"""``kafka-transactions.sh`` and ``kafka-dump-log.sh --transaction-log-decoder`` against a
running broker, with an open transaction of a real (librdkafka) transactional producer."""

from __future__ import annotations

from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script

PROPS = {
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 3,
    "offsets.topic.num.partitions": 3,
}


def tool(bootstrap: str, *args: str) -> list[list[str]]:
    rc, out, err = run_script("kafka-transactions.sh", "--bootstrap-server", bootstrap, *args)
    assert rc == 0, f"kafka-transactions.sh {' '.join(args)}: {err}"
    return [[cell.strip() for cell in line.rstrip("\t").split("\t")]
            for line in out.splitlines() if line.strip()]


def test_list_describe_abort_an_open_transaction(broker_factory):
    from confluent_kafka import Producer

    broker = broker_factory(0, props=PROPS)
    bootstrap = broker.bootstrap
    create_topic(bootstrap, "ledger", 1)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "tool-txn"})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(3):
        p.produce("ledger", b"entry-%d" % i, partition=0)
    assert p.flush(30) == 0

    rows = tool(bootstrap, "list")
    assert rows[0] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
    (txn_id, coordinator, producer_id, state), = rows[1:]
    assert (txn_id, coordinator, state) == ("tool-txn", "0", "Ongoing")

    header, row = tool(bootstrap, "describe", "--transactional-id", "tool-txn")
    described = dict(zip(header, row))
    assert described["ProducerId"] == producer_id and described["ProducerEpoch"] == "0"
    assert (described["TransactionState"], described["TopicPartitions"]) == ("Ongoing",
                                                                            "ledger-0")
    assert described["TransactionTimeoutMs"] == "60000"

    header, row = tool(bootstrap, "describe-producers", "--topic", "ledger", "--partition", "0")
    producer = dict(zip(header, row))
    assert (producer["ProducerId"], producer["LastSequence"],
            producer["CurrentTransactionStartOffset"]) == (producer_id, "2", "0")

    # The coordinator knows this transaction: nothing is hanging.
    assert tool(bootstrap, "find-hanging", "--broker-id", "0")[1:] == []

    # An operator aborts it at the partition: the ABORT marker ends it there.
    tool(bootstrap, "abort", "--topic", "ledger", "--partition", "0", "--start-offset", "0")
    header, row = tool(bootstrap, "describe-producers", "--topic", "ledger", "--partition", "0")
    assert dict(zip(header, row))["CurrentTransactionStartOffset"] == "None"

    p.commit_transaction(30)
    header, row = tool(bootstrap, "describe", "--transactional-id", "tool-txn")
    assert dict(zip(header, row))["TransactionState"] == "CompleteCommit"

    rc, _, err = run_script("kafka-transactions.sh", "--bootstrap-server", bootstrap,
                            "describe", "--transactional-id", "nobody")
    assert rc == 1 and "`nobody`" in err and "could not be found" in err, err

    segments = [s for s in broker.log_dir.glob("__transaction_state-*/*.log") if s.stat().st_size]
    assert len(segments) == 1
    rc, out, err = run_script("kafka-dump-log.sh", "--files", str(segments[0]),
                              "--transaction-log-decoder")
    assert rc == 0, err
    states = [line.split("state=")[1].split(",")[0] for line in out.splitlines()
              if "transactionalId=tool-txn" in line]
    assert states == ["Empty", "Ongoing", "PrepareCommit", "CompleteCommit"], out
