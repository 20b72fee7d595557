"""Every version the broker advertises, driven over a real socket and checked for sense.

Clients pick the highest version both sides support (kafka-python 3 and librdkafka use our
maxima; kafka-python 2.0 and aiokafka pin lower ones), so each advertised version has to be
correct, not just the newest. For each API and version we send a real request encoded at that
version and decode the answer at that version.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import (
    RequestHeader, encode_request_header, response_header_version)
from kafkalite.protocol.messages import (
    api_versions, create_topics, delete_topics, fetch, init_producer_id, list_offsets, metadata,
    produce)
from kafkalite.protocol.primitives import read_uvarint
from kafkalite.records.builder import build_batch
from kafkalite.records.record import iter_records


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.correlation = 0

    def call(self, api_key: int, version: int, request, response_cls):
        self.correlation += 1
        payload = encode_request_header(RequestHeader(api_key, version, self.correlation,
                                                      "versions-test")) + encode(request, version)
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "connection closed"
            buf += chunk
        frame = buf[4:]
        assert struct.unpack(">i", frame[:4])[0] == self.correlation
        offset = 4
        if response_header_version(api_key, version) >= 1:
            _, offset = read_uvarint(frame, offset)  # empty header tags
        return decode(response_cls, version, frame[offset:])


def advertised(conn: Conn) -> dict[int, tuple[int, int]]:
    r = conn.call(18, 0, api_versions.ApiVersionsRequest(), api_versions.ApiVersionsResponse)
    return {k.api_key: (k.min_version, k.max_version) for k in r.api_keys}


@pytest.fixture
def conn(broker):
    c = Conn(broker.port)
    yield c
    c.sock.close()


def test_advertised_ranges(conn):
    ranges = advertised(conn)
    expected = {18: (0, 3), 3: (0, 9), 0: (3, 9), 1: (4, 12), 2: (0, 7), 19: (0, 5),
                20: (0, 5), 22: (0, 4)}
    for key, rng in expected.items():
        assert ranges[key] == rng, key


def test_every_version_end_to_end(conn):
    ranges = advertised(conn)
    for v in range(ranges[18][0], ranges[18][1] + 1):
        req = api_versions.ApiVersionsRequest(client_software_name="kafkalite-test",
                                              client_software_version="1.0")
        r = conn.call(18, v, req, api_versions.ApiVersionsResponse)
        assert r.error_code == 0 and len(r.api_keys) == len(ranges)

    # CreateTopics: one topic per version, created and visible.
    for v in range(ranges[19][0], ranges[19][1] + 1):
        name = f"v-create-{v}"
        req = create_topics.CreateTopicsRequest(
            topics=[create_topics.CreatableTopic(name=name, num_partitions=2,
                                                 replication_factor=1)],
            timeout_ms=30000)
        r = conn.call(19, v, req, create_topics.CreateTopicsResponse)
        assert [(t.name, t.error_code) for t in r.topics] == [(name, 0)], v
        again = conn.call(19, v, req, create_topics.CreateTopicsResponse)
        assert again.topics[0].error_code == 36, v  # TOPIC_ALREADY_EXISTS

    # Metadata: every version lists the broker, the controller (v1+) and the topics.
    for v in range(ranges[3][0], ranges[3][1] + 1):
        topics = [metadata.MetadataRequestTopic(name="v-create-0")]
        r = conn.call(3, v, metadata.MetadataRequest(topics=topics), metadata.MetadataResponse)
        assert [b.node_id for b in r.brokers] == [0], v
        if v >= 1:
            assert r.controller_id == 0
        if v >= 2:
            assert r.cluster_id and len(r.cluster_id) == 22
        (t,) = r.topics
        assert t.error_code == 0 and sorted(p.partition_index for p in t.partitions) == [0, 1]
        assert all(p.leader_id == 0 and list(p.isr_nodes) == [0] for p in t.partitions)

    # Produce: each version appends one batch; offsets are consecutive.
    now = int(time.time() * 1000)
    for v in range(ranges[0][0], ranges[0][1] + 1):
        batch = build_batch([(b"k", f"produce-v{v}".encode(), [("h", b"x")], now)])
        req = produce.ProduceRequest(acks=-1, timeout_ms=10000, topic_data=[
            produce.TopicProduceData(name="v-create-0", partition_data=[
                produce.PartitionProduceData(index=0, records=batch)])])
        r = conn.call(0, v, req, produce.ProduceResponse)
        (p,) = r.responses[0].partition_responses
        assert (p.error_code, p.base_offset) == (0, v - ranges[0][0]), v
    produced = ranges[0][1] - ranges[0][0] + 1

    # Fetch: every version returns all produced records from offset 0, and the HW.
    for v in range(ranges[1][0], ranges[1][1] + 1):
        req = fetch.FetchRequest(replica_id=-1, max_wait_ms=100, min_bytes=1,
                                 max_bytes=1 << 20, isolation_level=0, topics=[
                                     fetch.FetchTopic(topic="v-create-0", partitions=[
                                         fetch.FetchPartition(partition=0, fetch_offset=0,
                                                              partition_max_bytes=1 << 20)])])
        r = conn.call(1, v, req, fetch.FetchResponse)
        (pd,) = r.responses[0].partitions
        assert pd.error_code == 0 and pd.high_watermark == produced, v
        values = [rec.value for rec in iter_records(bytes(pd.records))]
        assert values == [f"produce-v{x}".encode()
                          for x in range(ranges[0][0], ranges[0][1] + 1)], v

    # ListOffsets: latest = HW, earliest = 0, by timestamp finds the first record.
    for v in range(ranges[2][0], ranges[2][1] + 1):
        parts = [list_offsets.ListOffsetsPartition(partition_index=0, timestamp=ts)
                 for ts in (-1, -2, now - 1000)]
        for part, want in zip(parts, (produced, 0, 0)):
            req = list_offsets.ListOffsetsRequest(replica_id=-1, topics=[
                list_offsets.ListOffsetsTopic(name="v-create-0", partitions=[part])])
            r = conn.call(2, v, req, list_offsets.ListOffsetsResponse)
            (p,) = r.topics[0].partitions
            got = p.old_style_offsets[0] if v == 0 else p.offset  # v0: a list, newest first
            assert (p.error_code, got) == (0, want), (v, part.timestamp)

    # InitProducerId: fresh, distinct producer ids.
    pids = set()
    for v in range(ranges[22][0], ranges[22][1] + 1):
        r = conn.call(22, v, init_producer_id.InitProducerIdRequest(
            transactional_id=None, transaction_timeout_ms=60000),
            init_producer_id.InitProducerIdResponse)
        assert r.error_code == 0 and r.producer_epoch == 0
        pids.add(r.producer_id)
    assert len(pids) == ranges[22][1] - ranges[22][0] + 1

    # DeleteTopics: each version deletes one of the topics created above.
    for v in range(ranges[20][0], ranges[20][1] + 1):
        name = f"v-create-{v}"
        r = conn.call(20, v, delete_topics.DeleteTopicsRequest(topic_names=[name],
                                                               timeout_ms=30000),
                      delete_topics.DeleteTopicsResponse)
        assert [(x.name, x.error_code) for x in r.responses] == [(name, 0)], v
        md = conn.call(3, 1, metadata.MetadataRequest(
            topics=[metadata.MetadataRequestTopic(name=name)], allow_auto_topic_creation=False),
            metadata.MetadataResponse)
        assert md.topics[0].error_code in (3, 5), v  # gone (or being re-created)
