"""Fixtures of the CLI tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def saved_logging():
    """Put every logger's handlers, level and propagation back after the test."""
    def every_logger():
        return [logging.getLogger()] + [logging.getLogger(n) for n in
                                        list(logging.Logger.manager.loggerDict)]
    saved = {lg.name: (list(lg.handlers), lg.level, lg.propagate) for lg in every_logger()}
    yield
    for lg in every_logger():
        handlers, level, propagate = saved.get(lg.name, ([], logging.NOTSET, True))
        for h in lg.handlers:
            if h not in handlers:
                h.close()
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
