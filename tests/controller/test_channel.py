"""The controller's request queues send on the broker's controller connections: a request of
another kind to the same broker (a WriteTxnMarkers waiting for acks=all on a leader that no
longer leads) must not hold up the LeaderAndIsr that fixes it (found by make chaos)."""

from __future__ import annotations

from types import SimpleNamespace

import trio
import trio.testing

from kafkalite.controller.service.channel import ControllerChannel
from kafkalite.model import BrokerEndpoint, BrokerInfo
from kafkalite.protocol.api_keys import ApiKey


def test_controller_requests_use_the_controller_connections():
    sent = []

    async def send_to_broker(broker_id, header, request, **kwargs):
        sent.append((broker_id, header.api_key, kwargs))
        return SimpleNamespace(error_code=0)

    broker = SimpleNamespace(broker_id=0, send_to_broker=send_to_broker)

    async def main():
        async with trio.open_nursery() as nursery:
            channel = ControllerChannel(broker, nursery)
            channel.sync({1: BrokerInfo(1, (BrokerEndpoint("PLAINTEXT", "h", 1),),
                                        broker_epoch=5)})
            answered = trio.Event()
            channel.send(1, ApiKey.LEADER_AND_ISR, 4, object(), lambda resp: answered.set())
            await answered.wait()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert sent == [(1, int(ApiKey.LEADER_AND_ISR), {"controller": True})]


def test_delivered_waits_for_the_answers_to_what_was_queued_and_gives_up_after_the_timeout():
    release = {1: trio.Event(), 2: trio.Event()}
    answered = []

    async def send_to_broker(broker_id, header, request, **kwargs):
        await release[broker_id].wait()
        answered.append(broker_id)
        return SimpleNamespace(error_code=0)

    broker = SimpleNamespace(broker_id=0, send_to_broker=send_to_broker)
    results = []

    async def main():
        async with trio.open_nursery() as nursery:
            channel = ControllerChannel(broker, nursery)
            channel.sync({b: BrokerInfo(b, (BrokerEndpoint("PLAINTEXT", "h", b),),
                                        broker_epoch=5) for b in (1, 2)})
            for b in (1, 2):
                channel.send(b, ApiKey.LEADER_AND_ISR, 4, object())
            release[1].set()
            # broker 2 does not answer: the wait ends at the timeout, unsuccessfully
            results.append(await channel.delivered(5.0))
            results.append(list(answered))
            release[2].set()
            results.append(await channel.delivered(5.0))
            results.append(list(answered))
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert results == [False, [1], True, [1, 2]]


def test_a_request_to_the_controller_itself_lets_those_to_other_brokers_go_first():
    """This broker handles its own LeaderAndIsr in-process (a long stretch with thousands of
    partitions): the one to the other broker, queued in the same breath, is sent first, and
    a broker that does not answer holds it back only LOCAL_HEAD_START_S."""
    from kafkalite.controller.service.channel import LOCAL_HEAD_START_S

    events = []
    answer = {1: trio.Event(), 2: trio.Event()}

    async def send_to_broker(broker_id, header, request, **kwargs):
        events.append(("start", broker_id, trio.current_time()))
        if broker_id != 0:
            await answer[broker_id].wait()
        events.append(("end", broker_id, trio.current_time()))
        return SimpleNamespace(error_code=0)

    broker = SimpleNamespace(broker_id=0, send_to_broker=send_to_broker)

    async def main():
        async with trio.open_nursery() as nursery:
            channel = ControllerChannel(broker, nursery)
            channel.sync({b: BrokerInfo(b, (BrokerEndpoint("PLAINTEXT", "h", b),),
                                        broker_epoch=5) for b in (0, 1, 2)})
            for b in (0, 1, 2):   # the controller's own queue first, as the requests come
                channel.send(b, ApiKey.LEADER_AND_ISR, 4, object())
            await trio.sleep(0.05)
            answer[1].set()   # broker 1 answers soon, broker 2 never
            assert not await channel.delivered(1.0)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    starts = {b: t for kind, b, t in events if kind == "start"}
    assert starts[1] == starts[2] == 0 < starts[0]
    assert starts[0] == LOCAL_HEAD_START_S   # waited for broker 2 no longer than this
    assert ("end", 1, 0.05) in events and events.index(("end", 1, 0.05)) < events.index(
        ("start", 0, starts[0]))
