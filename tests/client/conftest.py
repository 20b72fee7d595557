"""Fixtures for client tests: an autojump trio runner and the in-memory broker."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from .fake_broker import FakeKafka


@pytest.fixture
def run():
    """``run(async_fn, *args)``: trio.run with an autojump clock (sleeps cost no wall time)."""

    def runner(async_fn, *args):
        return trio.run(functools.partial(async_fn, *args),
                        clock=trio.testing.MockClock(autojump_threshold=0))

    return runner


@pytest.fixture
def kafka(monkeypatch) -> FakeKafka:
    """A fresh in-memory broker reachable at any address (see fake_broker.py)."""
    return FakeKafka().install(monkeypatch)
