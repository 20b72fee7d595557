"""Sans-IO connections: FrameReader, ServerConnection, ClientConnection (joined in memory)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import FileRegion, encode
from kafkalite.protocol.framing import (
    ClientConnection,
    FrameReader,
    FrameTooLarge,
    InboundRequest,
    ServerConnection,
    UnknownApiKey,
    UnsupportedVersionError,
)
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.api_versions import (
    ApiVersion,
    ApiVersionsRequest,
    ApiVersionsResponse,
)
from kafkalite.protocol.messages.fetch import FetchableTopicResponse, FetchResponse, PartitionData
from kafkalite.protocol.messages.heartbeat import HeartbeatRequest, HeartbeatResponse
from kafkalite.protocol.messages.metadata import (
    MetadataRequest,
    MetadataRequestTopic,
    MetadataResponse,
    MetadataResponseBroker,
)
from kafkalite.protocol.messages.produce import (
    PartitionProduceData,
    ProduceRequest,
    TopicProduceData,
)

from .values import PHASES

SUPPORTED = {
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.METADATA: (0, 9),
    ApiKey.PRODUCE: (3, 9),
    ApiKey.FETCH: (4, 12),
    ApiKey.HEARTBEAT: (0, 4),
}


def frame_of(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def request_frame(
    msg, version: int, correlation_id: int = 1, client_id: str | None = "t"
) -> bytes:
    header = RequestHeader(type(msg).API_KEY, version, correlation_id, client_id)
    return frame_of(encode_request_header(header) + encode(msg, version))


def server(max_frame_bytes: int = 1 << 20) -> ServerConnection:
    return ServerConnection(max_frame_bytes=max_frame_bytes, supported=SUPPORTED)


# --- FrameReader -------------------------------------------------------------------------------


def test_frame_reader_splits_and_reports_needed() -> None:
    reader = FrameReader(100)
    assert reader.needed() == 4
    reader.feed(b"\x00\x00")
    assert reader.needed() == 2 and reader.next_frame() is None
    reader.feed(b"\x00\x05abc")
    assert reader.needed() == 2 and reader.next_frame() is None
    reader.feed(b"de\x00\x00\x00\x00")
    frame = reader.next_frame()
    assert frame == bytearray(b"abcde") and isinstance(frame, bytearray)
    assert reader.next_frame() == bytearray()  # a zero-length frame is still a frame
    assert reader.next_frame() is None and reader.buffered == 0


@pytest.mark.parametrize("size", [101, -1, -(2**31)])
def test_frame_reader_rejects_bad_sizes(size: int) -> None:
    reader = FrameReader(100)
    reader.feed(size.to_bytes(4, "big", signed=True))
    with pytest.raises(FrameTooLarge):
        reader.next_frame()
    with pytest.raises(FrameTooLarge):
        reader.needed()


def test_frame_reader_accepts_exactly_max() -> None:
    reader = FrameReader(3)
    reader.feed(frame_of(b"abc"))
    assert reader.next_frame() == b"abc"


@settings(max_examples=80, deadline=None, phases=PHASES)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=6),
       steps=st.lists(st.tuples(st.booleans(), st.integers(1, 97)), min_size=1, max_size=40),
       threshold=st.integers(1, 120))
def test_frame_reader_reads_large_frames_in_place(sizes, steps, threshold) -> None:
    """Reads into receive_buffer's view and chunks fed the usual way, mixed at random, give
    the same frames in the same order; the view never reaches past its frame."""
    payloads = [bytes((i + j) % 251 for j in range(n)) for i, n in enumerate(sizes)]
    stream = b"".join(frame_of(p) for p in payloads)
    reader = FrameReader(1000)
    got: list[bytes] = []
    pos = i = 0
    while pos < len(stream) or len(got) < len(payloads):
        in_place, n = steps[i % len(steps)]
        i += 1
        target = reader.receive_buffer(threshold) if in_place else None
        if target is not None:
            assert len(target) == reader.needed() > 0
            n = min(n, len(target), len(stream) - pos)
            target[:n] = stream[pos:pos + n]
            target.release()
            reader.received(n)
        else:
            n = min(n, len(stream) - pos)
            reader.feed(stream[pos:pos + n])
        pos += n
        while (frame := reader.next_frame()) is not None:
            assert isinstance(frame, bytearray)
            got.append(bytes(frame))
    assert got == payloads
    assert reader.buffered == 0 and reader.receive_buffer(1) is None


def test_frame_reader_in_place_frame_checks_its_size() -> None:
    reader = FrameReader(100)
    reader.feed((101).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge):
        reader.receive_buffer(1)
    conn = server(max_frame_bytes=100)
    conn.receive_data((101).to_bytes(4, "big"))
    assert conn.receive_buffer(1) is None     # reported by next_request, as before
    with pytest.raises(FrameTooLarge):
        conn.next_request()


# --- ServerConnection --------------------------------------------------------------------------

PIPELINE = [
    (ApiVersionsRequest(client_software_name="kl", client_software_version="1"), 3),
    (MetadataRequest(topics=(MetadataRequestTopic(name="a"),)), 1),
    (MetadataRequest(topics=None, allow_auto_topic_creation=False), 9),
    (
        ProduceRequest(
            acks=-1,
            timeout_ms=30000,
            topic_data=(
                TopicProduceData(
                    name="a", partition_data=(PartitionProduceData(index=0, records=b"R" * 70),)
                ),
            ),
        ),
        9,
    ),
    (HeartbeatRequest(group_id="g", generation_id=3, member_id="m"), 4),
]


@settings(max_examples=60, deadline=None, phases=PHASES)
@given(st.lists(st.integers(1, 23), min_size=1, max_size=30))
def test_pipelined_requests_in_odd_chunks(chunk_sizes: list[int]) -> None:
    stream = b"".join(
        request_frame(msg, v, correlation_id=i) for i, (msg, v) in enumerate(PIPELINE)
    )
    conn = server()
    got: list[InboundRequest] = []
    pos = i = 0
    while pos < len(stream):
        n = chunk_sizes[i % len(chunk_sizes)]
        conn.receive_data(stream[pos : pos + n])
        pos, i = pos + n, i + 1
        while (req := conn.next_request()) is not None:
            got.append(req)
    assert [r.header.correlation_id for r in got] == list(range(len(PIPELINE)))
    assert [r.body for r in got] == [msg for msg, _ in PIPELINE]
    assert not any(r.unsupported_version for r in got)


def test_unknown_api_key_raises_and_connection_stays_broken() -> None:
    conn = server()
    conn.receive_data(frame_of(bytes.fromhex("03e7 0000 00000001 ffff")))
    with pytest.raises(UnknownApiKey):
        conn.next_request()
    with pytest.raises(UnknownApiKey):
        conn.next_request()
    with pytest.raises(UnknownApiKey):
        conn.receive_data(b"more")


@pytest.mark.parametrize(
    ("msg", "version", "supported"),
    [
        (ProduceRequest(acks=1), 2, SUPPORTED),  # known key, below the advertised range
        (MetadataRequest(), 10, SUPPORTED),  # above the advertised range (schema has it)
        (HeartbeatRequest(), 4, {ApiKey.API_VERSIONS: (0, 3)}),  # not advertised at all
    ],
)
def test_unsupported_version_raises(msg, version: int, supported) -> None:
    conn = ServerConnection(max_frame_bytes=1 << 20, supported=supported)
    conn.receive_data(request_frame(msg, version))
    with pytest.raises(UnsupportedVersionError):
        conn.next_request()


def test_unsupported_api_versions_gets_v0_error_body() -> None:
    conn = server()
    # ApiVersions v4 (beyond our schema): header v2, body we cannot and need not parse.
    header = bytes.fromhex("0012 0004 0000002a 0001 63 00")
    conn.receive_data(frame_of(header + b"\x05kafka\x043.9\x00"))
    req = conn.next_request()
    assert req.unsupported_version and req.body is None
    assert req.header == RequestHeader(18, 4, 42, "c")
    response = ApiVersionsResponse(
        error_code=35, api_keys=(ApiVersion(api_key=18, min_version=0, max_version=3),)
    )
    parts = conn.response_parts(req, response)
    assert parts == [bytes.fromhex("00000010 0000002a 0023 00000001 0012 0000 0003")]


def test_api_versions_below_advertised_min_is_also_answered() -> None:
    conn = ServerConnection(max_frame_bytes=1000, supported={ApiKey.API_VERSIONS: (1, 3)})
    conn.receive_data(request_frame(ApiVersionsRequest(), 0))
    assert conn.next_request().unsupported_version


def test_undecodable_body_is_a_violation() -> None:
    conn = server()
    header = encode_request_header(RequestHeader(ApiKey.METADATA, 1, 1, "c"))
    conn.receive_data(frame_of(header + b"\x00\x00\x00\x05"))  # 5 topics, no bytes
    with pytest.raises(ProtocolViolation):
        conn.next_request()


def test_frame_too_large() -> None:
    conn = server(max_frame_bytes=64)
    conn.receive_data((65).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge):
        conn.next_request()


def test_verified_api_versions_v3_response_frame() -> None:
    conn = server()
    conn.receive_data(
        bytes.fromhex("00 00 00 12 00 12 00 03 00 00 00 01 00 01 63 00 03 6b 6c 02 31 00")
    )
    req = conn.next_request()
    assert req.body == ApiVersionsRequest(client_software_name="kl", client_software_version="1")
    response = ApiVersionsResponse(
        api_keys=(
            ApiVersion(api_key=18, min_version=0, max_version=3),
            ApiVersion(api_key=3, min_version=0, max_version=8),
        )
    )
    assert conn.response_parts(req, response) == [
        bytes.fromhex(
            "00 00 00 1a 00 00 00 01 00 00 03 00 12 00 00 00 03"
            " 00 00 03 00 00 00 08 00 00 00 00 00 00"
        )
    ]


def test_flexible_responses_get_header_v1() -> None:
    conn = server()
    conn.receive_data(request_frame(MetadataRequest(), 9, correlation_id=7))
    parts = conn.response_parts(conn.next_request(), MetadataResponse())
    assert parts[0][4:9] == bytes.fromhex("00000007 00")
    conn.receive_data(request_frame(MetadataRequest(), 8, correlation_id=8))
    parts = conn.response_parts(conn.next_request(), MetadataResponse())
    assert parts[0][4:8] == bytes.fromhex("00000008") and len(parts[0]) == 4 + int.from_bytes(
        parts[0][:4], "big"
    )


def test_response_parts_with_file_region_have_correct_size(tmp_path) -> None:
    path = tmp_path / "seg"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        conn = server()
        req = InboundRequest(header=RequestHeader(ApiKey.FETCH, 12, 3, "c"), body=None)
        region = FileRegion(fd=fd, offset=100, size=500)
        response = FetchResponse(
            responses=(
                FetchableTopicResponse(topic="t", partitions=(PartitionData(records=region),)),
            )
        )
        parts = conn.response_parts(req, response)
        assert isinstance(parts[1], FileRegion)
        total = sum(p.size if isinstance(p, FileRegion) else len(p) for p in parts)
        assert int.from_bytes(parts[0][:4], "big") == total - 4
    finally:
        os.close(fd)


def test_response_must_match_request_api() -> None:
    conn = server()
    conn.receive_data(request_frame(MetadataRequest(), 1))
    req = conn.next_request()
    with pytest.raises(ValueError):
        conn.response_parts(req, HeartbeatResponse())
    with pytest.raises(ValueError):
        conn.response_parts(req, MetadataRequest())


# --- ClientConnection <-> ServerConnection -----------------------------------------------------


class ConnectionPair:
    """A client and a server joined by an in-memory "network" (h11's ConnectionPair idea)."""

    def __init__(self, supported=SUPPORTED):
        self.client = ClientConnection(client_id="pair-client")
        self.server = ServerConnection(max_frame_bytes=1 << 20, supported=supported)

    def send(self, msg, version: int) -> tuple[int, list[InboundRequest]]:
        correlation_id, wire = self.client.send_request(msg, version)
        self.server.receive_data(wire)
        reqs = []
        while (req := self.server.next_request()) is not None:
            reqs.append(req)
        return correlation_id, reqs

    def answer(self, req: InboundRequest, response) -> list:
        out = []
        for part in self.server.response_parts(req, response):
            # Feed one byte at a time to exercise the client's reassembly too.
            for i in range(len(part)):
                out += self.client.receive_data(part[i : i + 1])
        return out


def test_pair_round_trip_for_several_apis() -> None:
    pair = ConnectionPair()
    cases = [
        (
            MetadataRequest(topics=None),
            9,
            MetadataResponse(
                brokers=(MetadataResponseBroker(node_id=1, host="h", port=9092),),
                cluster_id="c",
                controller_id=1,
            ),
        ),
        (
            MetadataRequest(topics=()),
            1,
            MetadataResponse(
                brokers=(MetadataResponseBroker(node_id=1, host="h", port=9092, rack="r"),)
            ),
        ),
        (
            HeartbeatRequest(group_id="g", generation_id=1, member_id="m", group_instance_id="i"),
            4,
            HeartbeatResponse(error_code=27),
        ),
        (
            HeartbeatRequest(group_id="g", generation_id=1, member_id="m"),
            0,
            HeartbeatResponse(error_code=22),
        ),
    ]
    for request, version, response in cases:
        correlation_id, [req] = pair.send(request, version)
        assert req.header.client_id == "pair-client"
        assert req.header.correlation_id == correlation_id
        assert req.body == request
        [(got_id, got)] = pair.answer(req, response)
        assert got_id == correlation_id
        assert got == response
    assert pair.client.in_flight == 0


def test_pair_pipelined_answers() -> None:
    pair = ConnectionPair()
    reqs = []
    for g in ("a", "b", "c"):
        _, got = pair.send(HeartbeatRequest(group_id=g), 3)
        reqs += got
    wire = b"".join(
        b"".join(pair.server.response_parts(r, HeartbeatResponse(error_code=i)))
        for i, r in enumerate(reqs)
    )
    assert pair.client.receive_data(wire) == [
        (0, HeartbeatResponse(error_code=0)),
        (1, HeartbeatResponse(error_code=1)),
        (2, HeartbeatResponse(error_code=2)),
    ]


def test_pair_acks_zero_produce_expects_no_response() -> None:
    pair = ConnectionPair()
    correlation_id, [req] = pair.send(ProduceRequest(acks=0, timeout_ms=1), 7)
    assert pair.client.in_flight == 0
    with pytest.raises(ProtocolViolation):
        pair.client.receive_data(frame_of(correlation_id.to_bytes(4, "big") + b"\x00" * 8))


def test_pair_api_versions_fallback_to_v0_body() -> None:
    # A broker that only knows ApiVersions 0-2 answers our v3 with a v0 error body (KIP-511).
    pair = ConnectionPair(supported={ApiKey.API_VERSIONS: (0, 2)})
    _, [req] = pair.send(
        ApiVersionsRequest(client_software_name="kl", client_software_version="1"), 3
    )
    assert req.unsupported_version
    error = ApiVersionsResponse(
        error_code=35, api_keys=(ApiVersion(api_key=18, min_version=0, max_version=2),)
    )
    [(_, got)] = pair.answer(req, error)
    assert got == error


def test_client_api_versions_fallback_when_body_does_not_parse() -> None:
    client = ClientConnection(client_id=None)
    correlation_id, _ = client.send_request(ApiVersionsRequest(), 3)
    v0_body = encode(
        ApiVersionsResponse(error_code=0, api_keys=(ApiVersion(api_key=18, max_version=2),)), 0
    )
    [(_, got)] = client.receive_data(frame_of(correlation_id.to_bytes(4, "big") + v0_body))
    assert got.api_keys == (ApiVersion(api_key=18, max_version=2),)


def test_client_rejects_unknown_correlation_ids_and_non_requests() -> None:
    client = ClientConnection(client_id="x")
    with pytest.raises(ProtocolViolation):
        client.receive_data(frame_of(b"\x00\x00\x00\x09\x00\x00"))
    with pytest.raises(ValueError):
        client.send_request(HeartbeatResponse(), 0)


def test_client_correlation_ids_wrap() -> None:
    client = ClientConnection(client_id="x")
    client._next_correlation_id = 2**31 - 1
    assert client.send_request(HeartbeatRequest(), 0)[0] == 2**31 - 1
    assert client.send_request(HeartbeatRequest(), 0)[0] == 0
