"""Metadata answers are kept encoded until the next UpdateMetadata, and only when they can be."""

from __future__ import annotations

from types import SimpleNamespace

import trio

from kafkalite.model import BrokerEndpoint, BrokerInfo
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import Encoded, decode, encode_frame, encode_parts
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.metadata import (MetadataRequest, MetadataRequestTopic,
                                                  MetadataResponse)
from kafkalite.server.dispatch import HANDLERS, RequestContext, load_handlers
from kafkalite.server.metadata_cache import MetadataCache, PartitionMetadata
from kafkalite.server.network import ConnectionInfo

load_handlers()


def _broker():
    cache = MetadataCache(cluster_id="c1", controller_id=0)
    _update(cache, leader=0)
    return SimpleNamespace(metadata=cache, authorizer=None,
                           config={"auto.create.topics.enable": False})


def _update(cache: MetadataCache, leader: int) -> None:
    brokers = [BrokerInfo(i, (BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092 + i,
                                             "PLAINTEXT"),)) for i in (0, 1)]
    cache.apply_update(controller_id=0, controller_epoch=1, brokers=brokers, partitions=[
        ("t", 0, PartitionMetadata(leader=leader, leader_epoch=leader, isr=(0, 1),
                                   replicas=(0, 1)))])


def _call(broker, version: int, request: MetadataRequest, listener: str = "PLAINTEXT"):
    ctx = RequestContext(broker, RequestHeader(int(ApiKey.METADATA), version, 1, "test"),
                         ConnectionInfo(listener, "127.0.0.1", 50000))
    return trio.run(HANDLERS[int(ApiKey.METADATA)].fn, ctx, request)


def _named(*names: str) -> MetadataRequest:
    return MetadataRequest(topics=[MetadataRequestTopic(name=n) for n in names],
                           allow_auto_topic_creation=False)


def test_same_question_gets_the_same_encoded_answer_until_an_update():
    b = _broker()
    first = _call(b, 9, _named("t"))
    assert isinstance(first, Encoded)
    assert _call(b, 9, _named("t")) is first
    assert first.topics[0].partitions[0].leader_id == 0
    # Other version, other topic list: answers of their own.
    assert _call(b, 8, _named("t")) is not first
    assert _call(b, 9, MetadataRequest(topics=None)) is not first
    _update(b.metadata, leader=1)
    after = _call(b, 9, _named("t"))
    assert after is not first
    assert after.topics[0].partitions[0].leader_id == 1


def test_encoded_answer_is_the_bytes_of_the_message():
    b = _broker()
    for version in (1, 5, 9):
        r = _call(b, version, _named("t"))
        (frame,) = encode_frame(r, version, b"\x00\x00\x00\x01")
        body = encode_parts(r.message, version)[0]
        assert frame == (4 + len(body)).to_bytes(4, "big") + b"\x00\x00\x00\x01" + body
        assert decode(MetadataResponse, version, body).topics[0].name == "t"
        assert r == r.message


def test_answers_with_a_topic_error_are_not_kept():
    b = _broker()
    r = _call(b, 9, _named("unknown"))
    assert not isinstance(r, Encoded)
    assert r.topics[0].error_code != 0
    assert _call(b, 9, _named("unknown")) is not r
