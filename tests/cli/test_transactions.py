"""kafka-transactions.sh: arguments, Kafka's tables byte for byte, and the command logic.

The commands run against ``FakeAdmin`` (the role Mockito's Admin plays in Kafka's
TransactionsCommandTest): canned answers, and a log of what was asked. The wire side of the
same calls is tested in tests/client/test_transactions_admin.py.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.cli.transactions import (
    DESCRIBE_HEADERS,
    HANGING_HEADERS,
    LIST_HEADERS,
    PRODUCER_HEADERS,
    OpenTransaction,
    _cluster_settings,
    format_describe,
    format_hanging,
    format_list,
    format_producers,
    kafka_transactions,
    pretty_print_table,
)
from kafkalite.client.metadata import PartitionMetadata
from kafkalite.client.transactions_admin import (
    ProducerState,
    TransactionDescription,
    TransactionListing,
)
from kafkalite.client.admin import TopicDescription
from kafkalite.errors import (
    CoordinatorNotAvailable,
    InvalidProducerEpoch,
    NotLeaderOrFollower,
    TransactionalIdNotFound,
    UnknownTopicOrPartition,
    UnsupportedVersion,
)
from kafkalite.model import TopicPartition

NOW = 1_700_000_000_000
MINUTE = 60_000
FOO5 = TopicPartition("foo", 5)


def _producer(pid, epoch=15, *, last_seq=1300, last_ts=1599509565, coordinator_epoch=None,
              start=None) -> ProducerState:
    return ProducerState(producer_id=pid, producer_epoch=epoch, last_sequence=last_seq,
                         last_timestamp=last_ts, coordinator_epoch=coordinator_epoch,
                         current_txn_start_offset=start)


def _description(tid, *, partitions, start=NOW - 5000, coordinator=5, pid=12345, epoch=15,
                 state="Ongoing") -> TransactionDescription:
    return TransactionDescription(transactional_id=tid, coordinator_id=coordinator, state=state,
                                  producer_id=pid, producer_epoch=epoch, timeout_ms=10000,
                                  start_time_ms=start, partitions=tuple(partitions))


class FakeAdmin:
    """Canned Admin answers; ``calls`` records (method, arguments) in order."""

    def __init__(self):
        self.listings: list[TransactionListing] = []
        self.descriptions: dict[str, TransactionDescription | Exception] = {}
        self.producers: dict[TopicPartition, tuple[ProducerState, ...] | Exception] = {}
        self.topics: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}

    def _maybe_fail(self, name):
        if name in self.fail:
            raise self.fail[name]

    async def list_transactions(self, state_filters=(), producer_id_filters=(), *,
                                duration_filter_ms=-1):
        self.calls.append(("list_transactions", sorted(producer_id_filters), duration_filter_ms))
        self._maybe_fail("list_transactions")
        return [entry for entry in self.listings
                if not producer_id_filters or entry.producer_id in producer_id_filters]

    async def describe_transactions(self, transactional_ids):
        ids = list(transactional_ids)
        self.calls.append(("describe_transactions", ids))
        self._maybe_fail("describe_transactions")
        return {tid: self.descriptions.get(tid, TransactionalIdNotFound(
            f"DescribeTransactions request for transactionalId `{tid}` failed because the ID "
            "could not be found")) for tid in ids}

    async def describe_producers(self, partitions, *, broker_id=None):
        tps = list(partitions)
        self.calls.append(("describe_producers", tps, broker_id))
        self._maybe_fail("describe_producers")
        return {tp: self.producers.get(tp, ()) for tp in tps}

    async def abort_transaction(self, tp, producer_id, producer_epoch, coordinator_epoch):
        self.calls.append(("abort_transaction", tp, producer_id, producer_epoch,
                           coordinator_epoch))
        self._maybe_fail("abort_transaction")

    async def list_topics(self, include_internal=False):
        self.calls.append(("list_topics", include_internal))
        return sorted(self.topics)

    async def describe_topics(self, names, *, include_internal=True, include_configs=True):
        names = list(names)
        self.calls.append(("describe_topics", names, include_configs))
        return [TopicDescription(name=n, partitions=tuple(
                    PartitionMetadata(topic=n, partition=p, leader=replicas[0],
                                      replicas=replicas)
                    for p, replicas in self.topics[n]))
                if n in self.topics else TopicDescription(
                    name=n, error=UnknownTopicOrPartition(f"topic {n}: unknown"))
                for n in names]

    def called(self, name):
        return [c[1:] for c in self.calls if c[0] == name]


@pytest.fixture
def admin() -> FakeAdmin:
    return FakeAdmin()


def _invoke(admin, *args):
    """Run the tool with ``admin``; (exit code, stdout lines, stderr text)."""
    result = CliRunner().invoke(kafka_transactions, ["--bootstrap-server", "localhost:9092",
                                                     *args],
                                obj={"admin": admin, "now_ms": lambda: NOW})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout.splitlines(), result.stderr


def _table(lines):
    """Kafka's test helper: split each line on whitespace."""
    return [line.split() for line in lines]


# --- the table printer ----------------------------------------------------------------------


def test_pretty_print_table_pads_every_cell_and_ends_each_with_a_tab():
    assert pretty_print_table(("A", "Bb"), [["xyz", "1"], ["q", "22222"]]) == [
        "A  \tBb   \t",
        "xyz\t1    \t",
        "q  \t22222\t",
    ]
    assert pretty_print_table(("Only",), []) == ["Only\t"]


def test_format_list_groups_by_coordinator():
    listings = [TransactionListing(transactional_id="baz", producer_id=13579,
                                   state="CompleteCommit", coordinator_id=1),
                TransactionListing(transactional_id="foo", producer_id=12345, state="Ongoing",
                                   coordinator_id=0),
                TransactionListing(transactional_id="bar", producer_id=98765,
                                   state="PrepareAbort", coordinator_id=0)]
    assert format_list(listings) == [
        "TransactionalId\tCoordinator\tProducerId\tTransactionState\t",
        "foo            \t0          \t12345     \tOngoing         \t",
        "bar            \t0          \t98765     \tPrepareAbort    \t",
        "baz            \t1          \t13579     \tCompleteCommit  \t",
    ]


def test_format_describe_with_and_without_an_open_transaction():
    lines = format_describe(_description("foo", partitions=[TopicPartition("bar", 0),
                                                            TopicPartition("bar", 1)]), NOW)
    assert lines[0] == "\t".join(DESCRIBE_HEADERS) + "\t"
    assert _table(lines)[1] == ["5", "foo", "12345", "15", "Ongoing", "10000", str(NOW - 5000),
                                "5000", "bar-0,bar-1"]
    assert lines[1].startswith("5            \tfoo            \t12345     \t15           \t")
    empty = format_describe(_description("foo", partitions=[], start=None, state="Empty"), NOW)
    assert empty[1].split("\t")[4:9] == ["Empty           ", "10000               ",
                                         "None                         ",
                                         "None                 ", "               "]


def test_format_producers_prints_absent_values_as_kafka_does():
    lines = format_producers([_producer(12345, coordinator_epoch=20, start=990),
                              _producer(98765, 30, last_seq=2300, last_ts=1599509599)])
    assert lines == [
        "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\t"
        "CurrentTransactionStartOffset\t",
        "12345     \t15           \t20                    \t1300        \t1599509565   \t"
        "990                          \t",
        "98765     \t30           \t-1                    \t2300        \t1599509599   \t"
        "None                         \t",
    ]


def test_format_hanging_duration_is_whole_minutes():
    t = OpenTransaction(FOO5, _producer(132, 5, last_ts=NOW - 60 * MINUTE - 59_999,
                                        coordinator_epoch=None, start=29384))
    assert _table(format_hanging([t], NOW)) == [
        list(HANGING_HEADERS),
        ["foo", "5", "132", "5", "-1", "29384", str(NOW - 60 * MINUTE - 59_999), "60"]]


# --- list / describe / describe-producers ---------------------------------------------------


def test_list(admin):
    admin.listings = [TransactionListing(transactional_id="foo", producer_id=12345,
                                         state="Ongoing", coordinator_id=0)]
    code, out, err = _invoke(admin, "list")
    assert (code, err) == (0, "")
    assert _table(out) == [list(LIST_HEADERS), ["foo", "0", "12345", "Ongoing"]]
    assert admin.called("list_transactions") == [([], -1)]


def test_list_with_duration_filter_and_its_failure(admin):
    admin.fail["list_transactions"] = UnsupportedVersion("Duration filter can be set only ...")
    code, out, err = _invoke(admin, "list", "--duration-filter", str(2**63 - 1))
    assert admin.called("list_transactions") == [([], 2**63 - 1)]
    assert (code, out) == (1, [])
    assert err == ("Failed to list transactions: Duration filter can be set only .... "
                   "Enable debug logging for additional detail.\n")


def test_describe(admin):
    admin.descriptions["foo"] = _description("foo", partitions=[TopicPartition("bar", 0)])
    code, out, err = _invoke(admin, "describe", "--transactional-id", "foo")
    assert (code, err) == (0, "")
    assert _table(out) == [list(DESCRIBE_HEADERS),
                           ["5", "foo", "12345", "15", "Ongoing", "10000", str(NOW - 5000),
                            "5000", "bar-0"]]


def test_describe_unknown_id_fails_with_kafkas_message(admin):
    code, out, err = _invoke(admin, "describe", "--transactional-id", "nope")
    assert (code, out) == (1, [])
    assert err == ("Failed to describe transaction state of transactional-id `nope`: "
                   "DescribeTransactions request for transactionalId `nope` failed because "
                   "the ID could not be found. Enable debug logging for additional detail.\n")


@pytest.mark.parametrize("broker", [None, 5])
def test_describe_producers(admin, broker):
    admin.producers[FOO5] = (_producer(12345, coordinator_epoch=20, start=990),
                             _producer(98765, 30, last_seq=2300, last_ts=1599509599))
    extra = [] if broker is None else ["--broker-id", str(broker)]
    code, out, err = _invoke(admin, "describe-producers", "--topic", "foo", "--partition", "5",
                             *extra)
    assert (code, err) == (0, "")
    assert admin.called("describe_producers") == [([FOO5], broker)]
    assert _table(out) == [list(PRODUCER_HEADERS),
                           ["12345", "15", "20", "1300", "1599509565", "990"],
                           ["98765", "30", "-1", "2300", "1599509599", "None"]]


@pytest.mark.parametrize("broker, clause", [(None, "leader"), (5, "broker 5")])
def test_describe_producers_failure(admin, broker, clause):
    admin.producers[FOO5] = NotLeaderOrFollower("not here")
    extra = [] if broker is None else ["--broker-id", str(broker)]
    code, _, err = _invoke(admin, "describe-producers", "--topic", "foo", "--partition", "5",
                           *extra)
    assert code == 1
    assert err == (f"Failed to describe producers for partition foo-5 on {clause}: not here. "
                   "Enable debug logging for additional detail.\n")


@pytest.mark.parametrize("args, missing", [
    (["describe-producers", "--partition", "0"], "--topic"),
    (["describe-producers", "--topic", "foo"], "--partition"),
    (["describe"], "--transactional-id"),
    (["abort", "--partition", "0", "--start-offset", "9990"], "--topic"),
    (["abort", "--topic", "foo", "--start-offset", "9990"], "--partition"),
])
def test_required_arguments(admin, args, missing):
    code, out, err = _invoke(admin, *args)
    assert code == 2 and out == []
    assert f"Missing option '{missing}'" in err
    assert admin.calls == []


def test_bad_numbers_and_missing_bootstrap(admin):
    code, _, err = _invoke(admin, "abort", "--topic", "t", "--partition", "0",
                           "--producer-id", "1", "--producer-epoch", "40000")
    assert code == 2 and "40000 is out of range for Short" in err
    result = CliRunner().invoke(kafka_transactions, ["list"], obj={"admin": admin})
    assert result.exit_code == 2 and "Missing option '--bootstrap-server'" in result.stderr


# --- abort -----------------------------------------------------------------------------------


@pytest.mark.parametrize("coordinator_epoch, expected", [(76, 76), (None, 0)])
def test_abort_by_start_offset(admin, coordinator_epoch, expected):
    admin.producers[FOO5] = (_producer(1, start=100),
                             _producer(12345, 15, coordinator_epoch=coordinator_epoch,
                                       start=9173))
    code, out, err = _invoke(admin, "abort", "--topic", "foo", "--partition", "5",
                             "--start-offset", "9173")
    assert (code, out, err) == (0, [], "")
    assert admin.called("describe_producers") == [([FOO5], None)]
    assert admin.called("abort_transaction") == [(FOO5, 12345, 15, expected)]


def test_abort_by_start_offset_without_such_transaction(admin):
    admin.producers[FOO5] = (_producer(1, start=100),)
    code, _, err = _invoke(admin, "abort", "--topic", "foo", "--partition", "5",
                           "--start-offset", "9173")
    assert code == 1
    assert err == "Could not find any open transactions starting at offset 9173 on partition " \
                  "foo-5\n"
    assert admin.called("abort_transaction") == []


@pytest.mark.parametrize("coordinator_epoch, expected", [(29, 29), (-1, 0)])
def test_abort_by_producer_id(admin, coordinator_epoch, expected):
    code, _, err = _invoke(admin, "abort", "--topic", "foo", "--partition", "5",
                           "--producer-id", "12345", "--producer-epoch", "15",
                           "--coordinator-epoch", str(coordinator_epoch))
    assert (code, err) == (0, "")
    assert admin.called("describe_producers") == []
    assert admin.called("abort_transaction") == [(FOO5, 12345, 15, expected)]


@pytest.mark.parametrize("args, message", [
    ([], "The transaction to abort must be identified either with --start-offset (for brokers "
         "on 3.0 or above) or with --producer-id, --producer-epoch, and --coordinator-epoch "
         "(for older brokers)"),
    (["--producer-id", "12345"], "Missing required argument --producer-epoch"),
    (["--producer-id", "12345", "--producer-epoch", "15"],
     "Missing required argument --coordinator-epoch"),
])
def test_abort_argument_checks(admin, args, message):
    code, _, err = _invoke(admin, "abort", "--topic", "foo", "--partition", "0", *args)
    assert (code, err) == (1, message + "\n")
    assert admin.calls == []


def test_abort_failure(admin):
    admin.fail["abort_transaction"] = InvalidProducerEpoch("bad epoch")
    code, _, err = _invoke(admin, "abort", "--topic", "foo", "--partition", "5",
                           "--producer-id", "7", "--producer-epoch", "1",
                           "--coordinator-epoch", "3")
    assert code == 1
    assert err == ("Failed to abort transaction AbortTransactionSpec(topicPartition=foo-5, "
                   "producerId=7, producerEpoch=1, coordinatorEpoch=3): bad epoch. Enable debug "
                   "logging for additional detail.\n")


# --- find-hanging ----------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    ([], "The `find-hanging` command requires either --topic or --broker-id to limit the scope "
         "of the search"),
    (["--broker-id", "0", "--partition", "5"],
     "The --partition argument requires --topic to be provided"),
])
def test_find_hanging_argument_checks(admin, args, message):
    code, _, err = _invoke(admin, "find-hanging", *args)
    assert (code, err) == (1, message + "\n")


def _foo_topic(admin):
    admin.topics["foo"] = [(0, (0, 1)), (1, (1, 5))]


def test_find_hanging_searches_the_partitions_of_a_broker(admin):
    _foo_topic(admin)
    admin.topics["__transaction_state"] = [(0, (5,))]
    code, out, _ = _invoke(admin, "find-hanging", "--broker-id", "5")
    assert code == 0 and _table(out) == [list(HANGING_HEADERS)]
    assert admin.called("list_topics") == [(True,)]           # internal topics too
    assert admin.called("describe_topics") == [(["__transaction_state", "foo"], False)]
    assert admin.called("describe_producers") == [
        ([TopicPartition("__transaction_state", 0), TopicPartition("foo", 1)], 5)]


@pytest.mark.parametrize("broker, searched", [
    (5, [TopicPartition("foo", 1)]),
    (None, [TopicPartition("foo", 0), TopicPartition("foo", 1)]),
])
def test_find_hanging_searches_a_topic(admin, broker, searched):
    _foo_topic(admin)
    extra = [] if broker is None else ["--broker-id", str(broker)]
    code, out, _ = _invoke(admin, "find-hanging", "--topic", "foo", *extra)
    assert code == 0 and _table(out) == [list(HANGING_HEADERS)]
    assert admin.called("list_topics") == []
    assert admin.called("describe_producers") == [(searched, broker)]


def test_find_hanging_unknown_topic(admin):
    code, _, err = _invoke(admin, "find-hanging", "--topic", "nope")
    assert code == 1
    assert err == ("Failed to describe 1 topics: topic nope: unknown. Enable debug logging for "
                   "additional detail.\n")


def _open_transaction(admin, *, age_minutes=60):
    admin.producers[FOO5] = (_producer(132, 5, last_seq=500, last_ts=NOW - age_minutes * MINUTE,
                                       coordinator_epoch=19, start=29384),)


def _hanging_row(age_minutes=60):
    return ["foo", "5", "132", "5", "19", "29384", str(NOW - age_minutes * MINUTE),
            str(age_minutes)]


def test_find_hanging_ignores_young_transactions(admin):
    _open_transaction(admin, age_minutes=15)   # not *older* than the 15 minute default
    admin.producers[TopicPartition("foo", 6)] = (_producer(1, last_ts=0),)  # no open txn
    code, out, _ = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert code == 0 and _table(out) == [list(HANGING_HEADERS)]
    assert admin.called("describe_topics") == []        # the partition was given
    assert admin.called("list_transactions") == []      # nothing to cross-check


def test_find_hanging_without_transactional_id(admin):
    _open_transaction(admin)
    code, out, _ = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert code == 0 and _table(out) == [list(HANGING_HEADERS), _hanging_row()]
    assert admin.called("list_transactions") == [([132], -1)]
    assert admin.called("describe_transactions") == [([],)]


def test_find_hanging_transactional_id_unknown_to_its_coordinator(admin):
    _open_transaction(admin)
    admin.listings = [TransactionListing(transactional_id="bar", producer_id=132,
                                         state="Ongoing", coordinator_id=1),
                      TransactionListing(transactional_id="other", producer_id=7,
                                         state="Ongoing", coordinator_id=1)]
    code, out, _ = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert _table(out) == [list(HANGING_HEADERS), _hanging_row()]
    assert admin.called("describe_transactions") == [(["bar"],)]


@pytest.mark.parametrize("coordinator_partition, hanging", [(10, True), (5, False)])
def test_find_hanging_cross_checks_the_coordinator(admin, coordinator_partition, hanging):
    _open_transaction(admin, age_minutes=30)
    admin.listings = [TransactionListing(transactional_id="bar", producer_id=132,
                                         state="Ongoing", coordinator_id=1)]
    admin.descriptions["bar"] = _description(
        "bar", partitions=[TopicPartition("foo", coordinator_partition)], pid=132, epoch=5)
    code, out, _ = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5",
                           "--max-transaction-timeout", "20")
    assert code == 0
    expected = [list(HANGING_HEADERS)] + ([_hanging_row(30)] if hanging else [])
    assert _table(out) == expected


def test_find_hanging_failures_name_the_step(admin):
    _open_transaction(admin)
    admin.listings = [TransactionListing(transactional_id="bar", producer_id=132,
                                         state="Ongoing", coordinator_id=1)]
    admin.descriptions["bar"] = CoordinatorNotAvailable("gone")
    code, _, err = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert (code, err) == (1, "Failed to describe 1 transactions: gone. Enable debug logging "
                              "for additional detail.\n")
    admin.fail["list_transactions"] = CoordinatorNotAvailable("down")
    code, _, err = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert err.startswith("Failed to list transactions for 1 producers: down.")
    admin.producers[FOO5] = UnknownTopicOrPartition("no such partition")
    code, _, err = _invoke(admin, "find-hanging", "--topic", "foo", "--partition", "5")
    assert err.startswith("Failed to describe producers for 1 partitions on broker "
                          "Optional.empty: no such partition.")


# --- --command-config ------------------------------------------------------------------------


def test_command_config(tmp_path, capsys):
    path = tmp_path / "admin.properties"
    path.write_text("request.timeout.ms=1234\ndefault.api.timeout.ms=5000\nclient.id=me\n"
                    "security.protocol=PLAINTEXT\nlinger.ms=5\n")
    assert _cluster_settings(str(path)) == {"client_id": "me", "request_timeout_ms": 1234,
                                            "retry_timeout_ms": 5000, "security": None}
    err = capsys.readouterr().err
    assert "The configuration 'linger.ms' was supplied but isn't a known config." in err
    assert "security.protocol" not in err
    with pytest.raises(Exception, match="^Failed to load admin client properties: cannot read"):
        _cluster_settings(str(tmp_path / "missing.properties"))
    path.write_text("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n")
    with pytest.raises(Exception, match="^Failed to create admin client: .*sasl.jaas.config"):
        _cluster_settings(str(path))
