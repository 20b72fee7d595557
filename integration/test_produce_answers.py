"""Produce answers over one connection with many requests in flight: each answer goes to its
request, in order, with every partition's result (errors and their v8 messages too); acks=0
requests are never answered, and a failed acks=0 request closes the connection after the
answers to the requests before it. The broker answers pipelined requests with one write
where it can, so all of them are sent at once here."""

from __future__ import annotations

import socket
import time

from kafkalite.protocol.framing import ClientConnection
from kafkalite.protocol.messages import api_versions, produce
from kafkalite.records.builder import build_batch
from kafkalite.testing.clients import create_topic


def _request(acks: int, *targets: tuple[str, int]) -> produce.ProduceRequest:
    topics: dict[str, list] = {}
    for topic, partition in targets:
        batch = build_batch([(None, f"{topic}-{partition}".encode(), (),
                              int(time.time() * 1000))])
        topics.setdefault(topic, []).append(
            produce.PartitionProduceData(index=partition, records=memoryview(batch)))
    return produce.ProduceRequest(acks=acks, timeout_ms=10000, topic_data=[
        produce.TopicProduceData(name=t, partition_data=ps) for t, ps in topics.items()])


def _read(sock: socket.socket, conn: ClientConnection, count: int) -> list:
    out: list = []
    while len(out) < count:
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {len(out)} of {count} answers"
        out += conn.receive_data(chunk)
    return out


def _results(resp) -> list[tuple]:
    return [(t.name, p.index, p.error_code, p.base_offset, p.error_message)
            for t in resp.responses for p in t.partition_responses]


def test_pipelined_produce_answers(broker):
    create_topic(broker.bootstrap, "a", partitions=2)
    create_topic(broker.bootstrap, "b")
    conn = ClientConnection(client_id="answers")
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as sock:
        sent = []
        data = b""
        for version, acks, targets in [
            (8, 1, [("a", 0)]),
            (9, 0, [("a", 1)]),                          # acks=0: no answer
            (9, 1, [("a", 0), ("a", 1), ("b", 0)]),
            (8, 1, [("a", 5), ("b", 0)]),                # one unknown partition
            (7, 1, [("a", 5)]),                          # v7: no error message
            (9, -1, [("b", 0)]),
            (9, 2, [("a", 0), ("b", 0)]),                # invalid acks: every partition
        ]:
            corr, frame = conn.send_request(_request(acks, *targets), version)
            data += frame
            if acks != 0:
                sent.append(corr)
        corr, frame = conn.send_request(api_versions.ApiVersionsRequest(
            client_software_name="answers", client_software_version="1"), 3)
        sent.append(corr)
        sock.sendall(data + frame)
        answers = _read(sock, conn, len(sent))
        assert [c for c, _ in answers] == sent
        results = [_results(r) for _, r in answers[:-1]]
        assert results[0] == [("a", 0, 0, 0, None)]
        assert results[1] == [("a", 0, 0, 1, None), ("a", 1, 0, 1, None), ("b", 0, 0, 0, None)]
        (unknown, ok) = results[2]
        assert unknown == ("a", 5, 3, -1, None)   # UNKNOWN_TOPIC_OR_PARTITION
        assert ok == ("b", 0, 0, 1, None)
        assert results[3] == [("a", 5, 3, -1, None)]
        assert results[4] == [("b", 0, 0, 2, None)]
        assert [r[:4] for r in results[5]] == [("a", 0, 21, -1), ("b", 0, 21, -1)]
        assert answers[-1][1].error_code == 0

        # a failed acks=0 request: the answers before it go out, then the connection closes
        data = b""
        _, frame = conn.send_request(_request(1, ("b", 0)), 9)
        data += frame
        _, frame = conn.send_request(_request(0, ("a", 7)), 9)
        data += frame
        sock.sendall(data)
        ((_, resp),) = _read(sock, conn, 1)
        assert _results(resp) == [("b", 0, 0, 3, None)]
        assert sock.recv(1) == b""


def test_large_request_sent_slowly_is_read_whole(broker):
    """A produce request of about a megabyte arriving in pieces (the broker reads the rest of such a
    frame straight into its own buffer, waking once enough of it arrived) is appended intact,
    and the small request sent right behind it in the same write is answered after it."""
    create_topic(broker.bootstrap, "big")
    now = int(time.time() * 1000)
    records = [(None, bytes([i % 256]) * 1000, (), now) for i in range(900)]
    big = produce.ProduceRequest(acks=1, timeout_ms=10000, topic_data=[
        produce.TopicProduceData(name="big", partition_data=[
            produce.PartitionProduceData(index=0, records=memoryview(build_batch(records)))])])
    conn = ClientConnection(client_id="big")
    first, frame = conn.send_request(big, 9)
    second, small = conn.send_request(_request(1, ("big", 0)), 9)
    assert len(frame) > 900_000
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as sock:
        piece = 40_000
        for pos in range(0, len(frame) - piece, piece):
            sock.sendall(frame[pos:pos + piece])
            time.sleep(0.002)
        sock.sendall(frame[pos + piece:] + small)
        answers = _read(sock, conn, 2)
    assert [c for c, _ in answers] == [first, second]
    assert _results(answers[0][1]) == [("big", 0, 0, 0, None)]
    assert _results(answers[1][1]) == [("big", 0, 0, 900, None)]
