"""TEST ONLY: shift this Python process's wall clock by an offset read from a file.

``make chaos`` puts this directory on a broker's ``PYTHONPATH`` and names a file in
``KAFKALITE_TEST_CLOCK_FILE``; Python imports ``sitecustomize`` at start-up, so the broker's
``time.time()`` / ``time.time_ns()`` (every wall-clock read in kafkalite, the logging
timestamps included) return the real time plus the number of seconds written in that file,
re-read every 100 ms. The monotonic clocks (``time.monotonic``, ``time.perf_counter``: trio's
timeouts) are untouched, as on a machine whose clock an NTP step or an operator moved. This is
what libfaketime's ``FAKETIME_TIMESTAMP_FILE`` does for C programs; it is not installed here, and
a Python-level shim needs no LD_PRELOAD.

Without ``KAFKALITE_TEST_CLOCK_FILE`` this module does nothing. Nothing in kafkalite imports
it; it is never on the path of a broker started any other way.
"""

import os
import threading
import time

_PATH = os.environ.get("KAFKALITE_TEST_CLOCK_FILE")

if _PATH:
    _real_time, _real_time_ns = time.time, time.time_ns
    _offset = [0.0]

    def _read() -> None:
        try:
            with open(_PATH) as f:
                _offset[0] = float(f.read().strip() or 0)
        except (OSError, ValueError):
            pass

    def _poll() -> None:
        while True:
            time.sleep(0.1)
            _read()

    _read()
    time.time = lambda: _real_time() + _offset[0]
    time.time_ns = lambda: _real_time_ns() + int(_offset[0] * 1e9)
    threading.Thread(target=_poll, name="test-clock-offset", daemon=True).start()
