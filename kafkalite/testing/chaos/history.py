"""The history of a chaos run: one JSON object per line, appended by every client thread.

Events are those of :mod:`kafkalite.testing.checker` (``send``, ``ack``, ``send_error``,
``txn``, ``session``, ``poll``, ``commit``, ``fault``); each also gets ``time``, seconds since
the run started (monotonic). One lock orders the lines, so one process's events appear in the
order its thread recorded them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["History", "read_history"]


class History:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8", buffering=1 << 16)
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self.counts: dict[str, int] = {}

    def record(self, type_: str, process: str, **fields) -> None:
        event = {"type": type_, "process": process,
                 "time": round(time.monotonic() - self._t0, 4), **fields}
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self.counts[type_] = self.counts.get(type_, 0) + 1

    def count(self, type_: str) -> int:
        with self._lock:
            return self.counts.get(type_, 0)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_history(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
