"""The socket server's connection handling against a real broker process: idle connections
are closed after ``connections.max.idle.ms`` while busy ones stay, and pipelined requests are
all answered, in order, without starving another connection."""

from __future__ import annotations

import socket
import struct
import time

from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse


def _api_versions(correlation: int) -> bytes:
    payload = encode_request_header(RequestHeader(18, 0, correlation, "it")) + \
        encode(ApiVersionsRequest(), 0)
    return struct.pack(">i", len(payload)) + payload


def _read_frames(s: socket.socket, count: int) -> list[bytes]:
    buf = b""
    frames = []
    while len(frames) < count:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        size = struct.unpack(">i", buf[:4])[0]
        frames.append(buf[4:4 + size])
        buf = buf[4 + size:]
    return frames


def _answered(frame: bytes, correlation: int) -> bool:
    (got,) = struct.unpack(">i", frame[:4])
    return got == correlation and decode(ApiVersionsResponse, 0, frame[4:]).error_code == 0


def _closed_by_peer(s: socket.socket, timeout: float) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def test_idle_connection_is_closed_and_a_busy_one_is_kept(broker_factory):
    b = broker_factory(0, props={"connections.max.idle.ms": 1500})
    idle = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    busy = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    # The busy connection asks something every 0.2 s for well over the idle limit.
    end = time.monotonic() + 4
    n = 0
    while time.monotonic() < end:
        n += 1
        busy.sendall(_api_versions(n))
        assert _answered(_read_frames(busy, 1)[0], n)
        time.sleep(0.2)
    assert _closed_by_peer(idle, timeout=30)
    busy.sendall(_api_versions(n + 1))
    assert _answered(_read_frames(busy, 1)[0], n + 1)
    busy.close()


def test_pipelined_requests_are_answered_in_order_beside_another_connection(broker_factory):
    b = broker_factory(0)
    burst = socket.create_connection(("127.0.0.1", b.port), timeout=30)
    other = socket.create_connection(("127.0.0.1", b.port), timeout=30)
    count = 500
    burst.sendall(b"".join(_api_versions(i) for i in range(count)))
    other.sendall(_api_versions(7))
    assert _answered(_read_frames(other, 1)[0], 7)
    frames = _read_frames(burst, count)
    assert all(_answered(f, i) for i, f in enumerate(frames))
    burst.close()
    other.close()


def test_fetch_larger_than_the_socket_buffer_arrives_whole(broker_factory):
    """A fetch answer far bigger than the socket buffer: the broker writes what the socket
    takes, waits, and continues (file regions resumed where they stopped)."""
    from kafkalite.protocol.framing import ClientConnection
    from kafkalite.protocol.messages import fetch, produce
    from kafkalite.records.batch import iter_batches
    from kafkalite.records.builder import build_batch
    from kafkalite.testing.clients import create_topic

    b = broker_factory(0)
    create_topic(b.bootstrap, "big", 1)
    s = socket.create_connection(("127.0.0.1", b.port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    conn = ClientConnection(client_id="it")

    def call(msg, version):
        s.sendall(conn.send_request(msg, version)[1])
        while True:
            out = conn.receive_data(s.recv(1 << 16))
            if out:
                return out[0][1]

    values = [bytes([i]) * 100_000 for i in range(40)]   # 4 MB in 40 batches
    for i, value in enumerate(values):
        r = call(produce.ProduceRequest(acks=1, timeout_ms=10000, topic_data=[
            produce.TopicProduceData(name="big", partition_data=[produce.PartitionProduceData(
                index=0, records=memoryview(build_batch([(None, value, (), 0)])))])]), 9)
        assert r.responses[0].partition_responses[0].base_offset == i
    _, frame = conn.send_request(fetch.FetchRequest(
        max_wait_ms=0, min_bytes=1, max_bytes=64 << 20, isolation_level=0, session_epoch=-1,
        topics=[fetch.FetchTopic(topic="big", partitions=[fetch.FetchPartition(
            partition=0, fetch_offset=0, partition_max_bytes=64 << 20)])]), 12)
    s.sendall(frame)
    time.sleep(1)   # let the broker fill the socket buffers and wait for room
    resp = None
    while resp is None:
        out = conn.receive_data(s.recv(1 << 16))
        resp = out[0][1] if out else None
    records = resp.responses[0].partitions[0].records
    batches = [batch for _, batch in iter_batches(memoryview(bytes(records)))]
    assert len(batches) == len(values)
    assert all(batch.is_valid() and batch.base_offset == i for i, batch in enumerate(batches))
    s.close()


def test_answer_held_for_coalescing_is_not_delayed_by_a_waiting_request(broker_factory):
    """ApiVersions and a long-polling Fetch sent together: the first answer goes out while
    the fetch waits in purgatory (it is not held back to share a write with the second)."""
    from kafkalite.protocol.framing import ClientConnection
    from kafkalite.protocol.messages import fetch, produce
    from kafkalite.records.builder import build_batch
    from kafkalite.testing.clients import create_topic

    b = broker_factory(0)
    create_topic(b.bootstrap, "poll", 1)
    s = socket.create_connection(("127.0.0.1", b.port), timeout=20)
    conn = ClientConnection(client_id="it")
    # Warm up: the fetch's partition is known and led before the pipelined pair is sent.
    _, warm = conn.send_request(ApiVersionsRequest(), 0)
    s.sendall(warm)
    assert _wait_responses(s, conn, 1)
    _, first = conn.send_request(ApiVersionsRequest(), 0)
    _, second = conn.send_request(fetch.FetchRequest(
        max_wait_ms=60000, min_bytes=1, max_bytes=1 << 20, isolation_level=0, session_epoch=-1,
        topics=[fetch.FetchTopic(topic="poll", partitions=[fetch.FetchPartition(
            partition=0, fetch_offset=0, partition_max_bytes=1 << 20)])]), 12)
    s.sendall(first + second)
    (answer,) = _wait_responses(s, conn, 1)   # within the socket timeout, long before 60 s
    assert answer[1].error_code == 0
    with socket.create_connection(("127.0.0.1", b.port), timeout=20) as p:
        pc = ClientConnection(client_id="producer")
        p.sendall(pc.send_request(produce.ProduceRequest(acks=1, timeout_ms=10000, topic_data=[
            produce.TopicProduceData(name="poll", partition_data=[produce.PartitionProduceData(
                index=0, records=memoryview(build_batch([(None, b"v", (), 0)])))])]), 9)[1])
        assert _wait_responses(p, pc, 1)
    (fetched,) = _wait_responses(s, conn, 1)
    assert fetched[1].responses[0].partitions[0].high_watermark == 1
    s.close()


def _wait_responses(s: socket.socket, conn, count: int) -> list:
    out: list = []
    while len(out) < count:
        chunk = s.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        out += conn.receive_data(chunk)
    return out
