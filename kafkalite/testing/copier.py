"""A consume-transform-produce copier, exactly once (Kafka's TransactionalMessageCopier).

Run as a process (``python -m kafkalite.testing.copier ...``) so a test can SIGKILL it: it
reads ``--input`` with a read_committed consumer, and for every batch of up to ``--batch``
records begins a transaction, writes each record to the same partition of ``--output``, adds
the consumer's positions with ``send_offsets_to_transaction`` and commits. The offsets and the
records become visible together or not at all, so a copier killed at any moment and started
again (same ``--transactional-id``: the new one fences the old) continues exactly where the
last committed transaction ended. An abortable error aborts and rewinds to the committed
offsets; a fatal one (fenced) exits with status 2.

It runs until stopped, or with ``--until-caught-up`` exits 0 once every input partition is
copied up to the end it saw at startup; it prints one JSON line per committed transaction.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["main"]


def _retrying(call) -> None:
    """Call until it succeeds; librdkafka marks errors after which the same call may simply
    be repeated (a timeout, a coordinator move) as retriable."""
    from confluent_kafka import KafkaException

    while True:
        try:
            return call()
        except KafkaException as e:
            error = e.args[0]
            if not error.retriable() or error.fatal() or error.txn_requires_abort():
                raise
            print(json.dumps({"retrying": error.name()}), flush=True)


def run(args) -> int:
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 500})
    producer = Producer({
        "bootstrap.servers": args.bootstrap, "transactional.id": args.transactional_id,
        "transaction.timeout.ms": args.transaction_timeout_ms, "linger.ms": 5,
        "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 500})
    partitions = [TopicPartition(args.input, p) for p in range(args.partitions)]
    producer.init_transactions(60)
    # The next offset to copy per partition: from the committed offsets after a (re)start or
    # an abort, then from the records copied (consumer.position() is unset until a partition
    # has delivered a record, and the offsets sent must be exact).
    next_offsets: dict[int, int] = {}

    def rewind() -> None:
        committed = consumer.committed(partitions, timeout=30)
        next_offsets.clear()
        next_offsets.update({tp.partition: max(tp.offset, 0) for tp in committed})
        consumer.assign([TopicPartition(args.input, p, o) for p, o in next_offsets.items()])

    rewind()
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=30, cached=False)[1]
            for p in partitions}
    copied = 0
    while True:
        msgs = [m for m in consumer.consume(args.batch, timeout=1.0) if m.error() is None]
        if not msgs:
            if args.until_caught_up and all(next_offsets[p] >= e for p, e in ends.items()):
                print(json.dumps({"done": True, "copied": copied}), flush=True)
                return 0
            continue
        after = dict(next_offsets)
        for m in msgs:
            after[m.partition()] = m.offset() + 1
        try:
            producer.begin_transaction()
            for m in msgs:
                producer.produce(args.output, m.value(), m.key(), partition=m.partition())
            if args.delay:
                # Inside the transaction, records sent: a copier killed now leaves an open
                # transaction with data in the output that its successor must abort.
                producer.flush(60)
                time.sleep(args.delay)
            _retrying(lambda: producer.send_offsets_to_transaction(
                [TopicPartition(args.input, p, o) for p, o in after.items()],
                consumer.consumer_group_metadata(), 60))
            _retrying(lambda: producer.commit_transaction(60))
        except KafkaException as e:
            error = e.args[0]
            if error.fatal():
                print(json.dumps({"fatal": error.name()}), flush=True)
                return 2
            print(json.dumps({"aborted": error.name()}), flush=True)
            if error.txn_requires_abort():
                producer.abort_transaction(60)
            rewind()
            continue
        next_offsets.update(after)
        copied += len(msgs)
        print(json.dumps({"committed": len(msgs), "copied": copied}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kafkalite.testing.copier",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--transactional-id", required=True)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds to wait inside each transaction before committing")
    parser.add_argument("--transaction-timeout-ms", type=int, default=60000)
    parser.add_argument("--until-caught-up", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
