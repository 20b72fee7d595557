"""``kafka-console-producer.sh``: read lines from stdin, send each as a record.

Flags and defaults follow Kafka 2.8's ConsoleProducer (``--request-required-acks 1``,
``--timeout`` = linger 1000 ms, ``--batch-size`` 16384 bytes, ``--request-timeout-ms`` 1500,
``--message-send-max-retries`` 3); the line parsing follows Kafka's LineMessageReader (3.x, which
added ``parse.headers``):

* ``parse.key=true`` splits each line at the first ``key.separator`` (default TAB); a line
  without it is an error "No key separator found on line number N: '<line>'" unless
  ``ignore.error=true``, which sends the whole line as the value with a null key;
* ``parse.headers=true`` first splits off ``h1:v1,h2:v2`` before ``headers.delimiter`` (TAB),
  pairs separated by ``headers.separator`` (",") and key/value by ``headers.key.separator`` (":");
* ``null.marker`` turns a key, value or header value equal to it into null.

Precedence of settings: an explicit flag > ``--producer-property`` > ``--producer.config`` >
the flag's default. The same properties say how to reach a secured listener
(``security.protocol``, ``sasl.*``, ``ssl.*``, as Kafka's producer reads them); a bad one is
one ``ERROR:`` line and exit 1.

Lines are bytes: a trailing ``\\n`` (and ``\\r``) is removed, nothing else is decoded. At EOF
the producer flushes and the tool exits 0, or 1 if any record failed.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import AsyncIterator, Mapping

import attrs
import click
import trio

from kafkalite.compression import CODEC_NAMES
from kafkalite.errors import ConfigError
from kafkalite.cli.common import (
    CLIENT_SECURITY_KEYS,
    choose_bootstrap,
    fail,
    parse_bool,
    parse_int,
    parse_properties,
    read_config_file,
    run_trio,
    warn_unknown,
)
from kafkalite.client.cluster import Cluster
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.errors import ClientError, describe
from kafkalite.client.producer import DeliveryHandle, Producer, parse_acks
from kafkalite.client.security import client_security

__all__ = ["LineReader", "LineSplitter", "ParsedLine", "InputError", "ProducerSettings",
           "producer_settings", "console_producer", "main"]

_MAX_REPORTED_FAILURES = 10

# Producer configs this tool understands, and Kafka ones accepted but without effect here.
_PRODUCER_KEYS = {
    "bootstrap.servers", "acks", "compression.type", "linger.ms", "batch.size",
    "enable.idempotence", "client.id", "request.timeout.ms", "retries", "retry.backoff.ms",
    "delivery.timeout.ms", "max.request.size", "buffer.memory", "max.block.ms",
}
_IGNORED_KEYS = {
    "key.serializer", "value.serializer", "max.in.flight.requests.per.connection",
    "metadata.max.age.ms", "send.buffer.bytes", "receive.buffer.bytes",
    "connections.max.idle.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
    "partitioner.class",
}


class InputError(ClientError):
    """A stdin line that cannot be parsed as configured (Kafka's KafkaException)."""


@attrs.frozen
class ParsedLine:
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@attrs.frozen(kw_only=True)
class LineReader:
    """Kafka's LineMessageReader: one stdin line -> key, value, headers."""

    parse_key: bool = False
    key_separator: bytes = b"\t"
    ignore_error: bool = False
    parse_headers: bool = False
    headers_delimiter: bytes = b"\t"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_marker: bytes | None = None

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> LineReader:
        """Build from ``--property`` values (unknown keys are ignored, as Kafka does).

        Raises:
            ConfigError: a bad boolean, an empty separator, or a null marker equal to a
                separator.
        """
        def sep(key: str, default: bytes) -> bytes:
            if key not in props:
                return default
            value = props[key].encode("utf-8")
            if not value:
                raise ConfigError(f"{key} must not be empty")
            return value

        reader = cls(
            parse_key=parse_bool(props.get("parse.key", "false"), key="parse.key"),
            key_separator=sep("key.separator", b"\t"),
            ignore_error=parse_bool(props.get("ignore.error", "false"), key="ignore.error"),
            parse_headers=parse_bool(props.get("parse.headers", "false"), key="parse.headers"),
            headers_delimiter=sep("headers.delimiter", b"\t"),
            headers_separator=sep("headers.separator", b","),
            headers_key_separator=sep("headers.key.separator", b":"),
            null_marker=props["null.marker"].encode("utf-8") if props.get("null.marker") else None,
        )
        separators = {"key.separator": reader.key_separator,
                      "headers.delimiter": reader.headers_delimiter,
                      "headers.separator": reader.headers_separator,
                      "headers.key.separator": reader.headers_key_separator}
        for key, value in separators.items():
            if reader.null_marker is not None and reader.null_marker == value:
                raise ConfigError(f"null.marker and {key} may not be equal")
        return reader

    def parse(self, line: bytes, line_number: int) -> ParsedLine:
        """Split one line (without its newline).

        Raises:
            InputError: a separator is missing and ``ignore.error`` is off, or a header key is
                the null marker.
        """
        headers_text = self._split(self.parse_headers, line, 0, self.headers_delimiter,
                                   "headers delimiter", line_number)
        header_end = 0 if headers_text is None else len(headers_text) + len(self.headers_delimiter)
        key = self._split(self.parse_key, line, header_end, self.key_separator, "key separator",
                          line_number)
        key_end = 0 if key is None else len(key) + len(self.key_separator)
        value = line[header_end + key_end:]
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if headers_text is not None and headers_text != self.null_marker:
            headers = self._split_headers(headers_text, line_number)
        return ParsedLine(self._nullify(key), self._nullify(value), headers)

    def _nullify(self, data: bytes | None) -> bytes | None:
        if data is None or (self.null_marker is not None and data == self.null_marker):
            return None
        return data

    def _split(self, enabled: bool, line: bytes, start: int, demarcation: bytes, name: str,
               line_number: int) -> bytes | None:
        if not enabled:
            return None
        index = line.find(demarcation, start)
        if index == -1:
            if self.ignore_error:
                return None
            text = line.decode("utf-8", "replace")
            raise InputError(f"No {name} found on line number {line_number}: '{text}'")
        return line[start:index]

    def _split_headers(self, text: bytes, line_number: int) -> tuple[tuple[str, bytes | None], ...]:
        out = []
        for pair in text.split(self.headers_separator):
            index = pair.find(self.headers_key_separator)
            if index == -1:
                if self.ignore_error:
                    out.append((pair.decode("utf-8", "replace"), None))
                    continue
                shown = pair.decode("utf-8", "replace")
                raise InputError(f"No header key separator found in pair '{shown}' on line "
                                 f"number {line_number}")
            header_key = pair[:index]
            if self.null_marker is not None and header_key == self.null_marker:
                raise InputError(f"Header keys should not be equal to the null marker "
                                 f"'{self.null_marker.decode('utf-8', 'replace')}' as they can't "
                                 "be null")
            value = pair[index + len(self.headers_key_separator):]
            out.append((header_key.decode("utf-8", "replace"), self._nullify(value)))
        return tuple(out)


class LineSplitter:
    """Cuts a byte stream into lines; strips ``\\n`` and a ``\\r`` before it (Java readLine)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        if b"\n" not in chunk:
            return []
        *lines, rest = bytes(self._buf).split(b"\n")
        self._buf = bytearray(rest)
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def finish(self) -> list[bytes]:
        """The last line when the input did not end with a newline."""
        if not self._buf:
            return []
        line = bytes(self._buf)
        self._buf.clear()
        return [line[:-1] if line.endswith(b"\r") else line]


async def read_lines(stream) -> AsyncIterator[bytes]:
    """Lines of a binary file object, read in a worker thread (stdin blocks)."""
    splitter = LineSplitter()
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = await trio.to_thread.run_sync(read, 65536, abandon_on_cancel=True)
        if not chunk:
            break
        for line in splitter.feed(chunk):
            yield line
    for line in splitter.finish():
        yield line


@attrs.frozen(kw_only=True)
class ProducerSettings:
    """Everything the tool needs, after flags, properties and config file are merged."""

    bootstrap: str
    topic: str
    acks: int = 1
    compression: str = "none"
    linger_ms: int = 1000
    batch_size: int = 16_384
    enable_idempotence: bool = False
    client_id: str = "console-producer"
    request_timeout_ms: int = 1500
    retries: int = 3
    retry_backoff_ms: int = 100
    delivery_timeout_ms: int = 120_000
    max_request_size: int = 1_048_576
    buffer_memory: int = 33_554_432
    max_block_ms: int = 60_000
    sync: bool = False
    security: ClientSecurity | None = None


def producer_settings(*, bootstrap: str, topic: str, flags: Mapping[str, object],
                      props: Mapping[str, str], sync: bool = False) -> ProducerSettings:
    """Merge explicit flags (None = not given) over producer properties over defaults.

    Raises:
        ConfigError: an invalid value.
    """
    defaults = ProducerSettings(bootstrap=bootstrap, topic=topic, sync=sync)

    def pick(flag: str, key: str, default, convert):
        if flags.get(flag) is not None:
            return convert(flags[flag])
        if key in props:
            return convert(props[key])
        return default

    def as_int(key):
        return lambda v: parse_int(v, key=key)

    compression = pick("compression_codec", "compression.type", defaults.compression, str).lower()
    if compression not in CODEC_NAMES:
        raise ConfigError(f"Invalid value {compression} for configuration compression.type: "
                          f"String must be one of: {', '.join(CODEC_NAMES)}")
    return attrs.evolve(
        defaults,
        acks=pick("request_required_acks", "acks", defaults.acks, parse_acks),
        compression=compression,
        linger_ms=pick("linger_ms", "linger.ms", defaults.linger_ms, as_int("linger.ms")),
        batch_size=pick("batch_size", "batch.size", defaults.batch_size, as_int("batch.size")),
        enable_idempotence=pick("enable_idempotence", "enable.idempotence",
                                defaults.enable_idempotence,
                                lambda v: parse_bool(v, key="enable.idempotence")),
        client_id=pick("client_id", "client.id", defaults.client_id, str),
        request_timeout_ms=pick("request_timeout_ms", "request.timeout.ms",
                                defaults.request_timeout_ms, as_int("request.timeout.ms")),
        retries=pick("retries", "retries", defaults.retries, as_int("retries")),
        retry_backoff_ms=pick("retry_backoff_ms", "retry.backoff.ms", defaults.retry_backoff_ms,
                              as_int("retry.backoff.ms")),
        delivery_timeout_ms=pick("delivery_timeout_ms", "delivery.timeout.ms",
                                 defaults.delivery_timeout_ms, as_int("delivery.timeout.ms")),
        max_request_size=pick("max_request_size", "max.request.size",
                              defaults.max_request_size, as_int("max.request.size")),
        buffer_memory=pick("buffer_memory", "buffer.memory", defaults.buffer_memory,
                           as_int("buffer.memory")),
        max_block_ms=pick("max_block_ms", "max.block.ms", defaults.max_block_ms,
                          as_int("max.block.ms")),
    )


def _failure_line(handle: DeliveryHandle) -> str:
    key = "null" if handle.key is None else handle.key.decode("utf-8", "replace")
    size = "null" if handle.value_size < 0 else f"{handle.value_size} bytes"
    return (f"ERROR: Error when sending message to topic {handle.topic} with key: {key}, "
            f"value: {size} with error: {describe(handle.error)}")


async def produce_lines(settings: ProducerSettings, reader: LineReader, stream) -> int:
    """Send every line of ``stream``; returns how many records failed (reported on stderr).

    Raises:
        InputError: a line could not be parsed (records before it are flushed first).
    """
    failures = 0

    def report(handle: DeliveryHandle) -> None:
        nonlocal failures
        if handle.error is not None:
            failures += 1
            if failures <= _MAX_REPORTED_FAILURES:
                click.echo(_failure_line(handle), err=True)

    async with Cluster(settings.bootstrap, client_id=settings.client_id,
                       request_timeout_ms=max(settings.request_timeout_ms, 1),
                       retry_backoff_ms=settings.retry_backoff_ms,
                       retry_timeout_ms=settings.max_block_ms,
                       security=settings.security) as cluster:
        async with Producer(cluster, acks=settings.acks, compression=settings.compression,
                            linger_ms=settings.linger_ms, batch_size=settings.batch_size,
                            enable_idempotence=settings.enable_idempotence,
                            delivery_timeout_ms=settings.delivery_timeout_ms,
                            retries=settings.retries, retry_backoff_ms=settings.retry_backoff_ms,
                            max_request_size=settings.max_request_size,
                            buffer_memory=settings.buffer_memory) as producer:
            pending: deque[DeliveryHandle] = deque()
            line_number = 0
            try:
                async for line in read_lines(stream):
                    line_number += 1
                    parsed = reader.parse(line, line_number)
                    handle = await producer.enqueue(settings.topic, parsed.value, key=parsed.key,
                                                    headers=parsed.headers)
                    if settings.sync:
                        await producer.flush()
                        report(handle)
                        continue
                    pending.append(handle)
                    while pending and pending[0].done():
                        report(pending.popleft())
            except InputError:
                # Kafka closes (and so flushes) the producer before dying on a bad line.
                await producer.flush()
                for handle in pending:
                    report(handle)
                raise
            await producer.flush()
            for handle in pending:
                report(handle)
    return failures


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED unless --broker-list is given: the server(s) "
              "to connect to, host1:port1,host2:port2.")
@click.option("--broker-list", help="DEPRECATED, use --bootstrap-server instead.")
@click.option("--topic", required=True, help="REQUIRED: the topic to produce messages to.")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE",
              help="Line reader properties: parse.key, key.separator, ignore.error, "
                   "parse.headers, headers.delimiter, headers.separator, headers.key.separator, "
                   "null.marker.")
@click.option("--producer-property", "producer_properties", multiple=True, metavar="KEY=VALUE",
              help="Producer config properties (override --producer.config).")
@click.option("--producer.config", "producer_config", type=click.Path(dir_okay=False),
              help="Producer config properties file.")
@click.option("--request-required-acks", help="The required acks of the producer requests "
              "(default: 1).")
@click.option("--compression-codec", type=click.Choice(list(CODEC_NAMES), case_sensitive=False),
              is_flag=False, flag_value="gzip", help="none, gzip, snappy, lz4 or zstd; without a "
              "value it means gzip.")
@click.option("--sync", is_flag=True, help="Send each message synchronously, one at a time.")
@click.option("--timeout", "linger_ms", type=int, help="Max time in ms a message waits for its "
              "batch to fill (linger.ms, default 1000).")
@click.option("--batch-size", type=int, help="batch.size in bytes (default 16384).")
@click.option("--max-partition-memory-bytes", type=int, hidden=True)
@click.option("--max-memory-bytes", "buffer_memory", type=int, help="buffer.memory in bytes.")
@click.option("--max-block-ms", type=int, help="How long to wait for metadata (default 60000).")
@click.option("--request-timeout-ms", type=int, help="request.timeout.ms (default 1500).")
@click.option("--message-send-max-retries", "retries", type=int, help="retries (default 3).")
@click.option("--retry-backoff-ms", type=int, help="retry.backoff.ms (default 100).")
def console_producer(bootstrap_server, broker_list, topic, properties, producer_properties,
                     producer_config, request_required_acks, compression_codec, sync, linger_ms,
                     batch_size, max_partition_memory_bytes, buffer_memory, max_block_ms,
                     request_timeout_ms, retries, retry_backoff_ms) -> None:
    """Read data from standard input and publish it to Kafka."""
    reader_props = parse_properties(properties)
    extra = parse_properties(producer_properties, option="--producer-property")
    try:
        props = {**read_config_file(producer_config), **extra}
        bootstrap = choose_bootstrap(bootstrap_server, broker_list, props)
        warn_unknown(props, _PRODUCER_KEYS | _IGNORED_KEYS | CLIENT_SECURITY_KEYS)
        flags = {
            "request_required_acks": request_required_acks,
            "compression_codec": compression_codec,
            "linger_ms": linger_ms,
            "batch_size": batch_size if batch_size is not None else max_partition_memory_bytes,
            "buffer_memory": buffer_memory,
            "max_block_ms": max_block_ms,
            "request_timeout_ms": request_timeout_ms,
            "retries": retries,
            "retry_backoff_ms": retry_backoff_ms,
        }
        settings = producer_settings(bootstrap=bootstrap, topic=topic, flags=flags, props=props,
                                     sync=sync)
        reader = LineReader.from_properties(reader_props)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        settings = attrs.evolve(settings, security=client_security(props))
    except ConfigError as exc:
        fail(str(exc))
    failures = run_trio(produce_lines, settings, reader, sys.stdin.buffer)
    if failures:
        click.echo(f"ERROR: {failures} message(s) could not be delivered", err=True)
        sys.exit(1)


main = console_producer

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.console_producer")
