"""Logging set-up shared by the long-running tools, in Kafka's log4j layout.

``[2026-11-21 19:30:00,123] INFO message (kafkalite.server.broker)`` on stdout (foreground) or
in a file (``-daemon``). ``KAFKALITE_LOG_LEVEL`` (DEBUG, INFO, WARN, ERROR) overrides the level.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure_logging"]


class _KafkaFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "WARN" if record.levelname == "WARNING" else record.levelname
        ts = self.formatTime(record, "%Y-%m-%d %H:%M:%S") + f",{int(record.msecs):03d}"
        text = f"[{ts}] {level} {record.getMessage()} ({record.name})"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(stream=None, path: str | None = None) -> None:
    level = os.environ.get("KAFKALITE_LOG_LEVEL", "INFO").upper().replace("WARN", "WARNING")
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path)
    else:
        handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(_KafkaFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))
    for noisy in ("kazoo", "kazoo.client", "kazoo.protocol.connection"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
