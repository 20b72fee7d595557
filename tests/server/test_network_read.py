"""The socket server's reads without waiting: pipelined large requests go straight into their
own frame buffers, not through the chunk buffer and the stream buffer."""

from __future__ import annotations

import os
import socket
import threading
import time

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import encode
from kafkalite.protocol.framing import ServerConnection
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.produce import (
    PartitionProduceData,
    ProduceRequest,
    TopicProduceData,
)
from kafkalite.server.network import _RECV_CHUNK, _SocketTransport

RECORDS = 1 << 20


def produce_frame(correlation_id: int, records: bytes) -> bytes:
    msg = ProduceRequest(transactional_id=None, acks=-1, timeout_ms=30000, topic_data=[
        TopicProduceData(name="t", partition_data=[
            PartitionProduceData(index=0, records=records)])])
    payload = encode_request_header(RequestHeader(ApiKey.PRODUCE, 9, correlation_id, "c")) + \
        encode(msg, 9)
    return len(payload).to_bytes(4, "big") + payload


def test_pipelined_large_requests_are_read_in_place():
    a, b = socket.socketpair()
    b.setblocking(False)
    records = [os.urandom(RECORDS), os.urandom(RECORDS)]
    data = produce_frame(1, records[0]) + produce_frame(2, records[1])
    sender = threading.Thread(target=a.sendall, args=(data,))
    conn = ServerConnection(max_frame_bytes=4 << 20, supported={ApiKey.PRODUCE: (3, 9)})
    through_chunks = 0
    feed = conn.receive_data

    def counting_feed(chunk) -> None:
        nonlocal through_chunks
        through_chunks += len(chunk)
        feed(chunk)

    conn.receive_data = counting_feed
    transport = _SocketTransport(b)
    view = memoryview(bytearray(_RECV_CHUNK))
    got = []
    with a, b:
        sender.start()
        deadline = time.monotonic() + 10
        while len(got) < 2:
            assert time.monotonic() < deadline, "the requests did not arrive"
            while (request := conn.next_request()) is not None:
                got.append(request)
            if len(got) < 2 and transport.feed_now(conn, view) < 0:
                time.sleep(0.001)
        sender.join()
    assert [r.header.correlation_id for r in got] == [1, 2]
    assert [bytes(r.body.topic_data[0].partition_data[0].records) for r in got] == records
    # At most the chunk that held a frame's start went through the chunk buffer.
    assert through_chunks <= 2 * _RECV_CHUNK < len(data) / 2
