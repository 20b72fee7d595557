"""The fuzz tool's pure parts: crash detection in broker logs, percentiles, frame cases."""

from __future__ import annotations

import random

from kafkalite.cli.fuzz import percentile, scan_logs
from kafkalite.cli.fuzz_frames import KINDS, FrameFactory
from kafkalite.server.dispatch import supported_versions

LOG = """\
[2024-06-07 10:00:00,001] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)
[2024-06-07 10:00:01,002] WARN [SocketServer brokerId=0] Unexpected error from /127.0.0.1; \
closing connection: Invalid receive (size = 2147483647 larger than 104857600) \
(kafka.network.SocketServer)
[2024-06-07 10:00:02,003] ERROR [SocketServer brokerId=0] Unexpected error from /127.0.0.1 \
(port 1234); closing connection (kafka.network.SocketServer)
Traceback (most recent call last):
  File "/x/kafkalite/server/handlers/offset_fetch.py", line 59, in handle_offset_fetch
    offset = await get()
  File "/x/kazoo/protocol/paths.py", line 9, in normpath
    raise ValueError("relative paths not allowed")
ValueError: relative paths not allowed

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/kafkalite/server/network.py", line 263, in _serve_connection
    await loop()
KeyError: 'boom'
[2024-06-07 10:00:03,004] ERROR [SocketServer brokerId=0] Unexpected error from /127.0.0.1 \
(port 5678); closing connection (kafka.network.SocketServer)
Traceback (most recent call last):
  File "/x/kafkalite/server/network.py", line 263, in _serve_connection
    await loop()
KeyError: 'boom'
"""


def test_scan_logs_groups_crashes_and_counts_protocol_violations(tmp_path):
    path = tmp_path / "server.log"
    path.write_text(LOG)
    crashes, violations = scan_logs([path, tmp_path / "missing.log"])
    assert violations == 1
    assert [(c["exception"], c["count"]) for c in crashes] == [("KeyError: 'boom'", 2)]
    (crash,) = crashes
    assert crash["where"].startswith('File "/x/kafkalite/server/network.py"')
    assert crash["message"].startswith("ERROR [SocketServer brokerId=0] Unexpected error")
    assert "ValueError: relative paths not allowed" in crash["traceback"]
    path.write_text(LOG.split("[2024-06-07 10:00:02")[0])
    assert scan_logs([path]) == ([], 1)


def test_percentile():
    assert percentile([], 99) is None
    assert percentile([5.0], 99) == 5.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile(list(reversed(values)), 100) == 100.0


def test_every_kind_of_case_is_framed():
    factory = FrameFactory(supported_versions(), random.Random(3), names=("t",))
    for kind in KINDS:
        case = factory.case(kind)
        assert case.kind == kind and len(case.data) >= 4
        size = int.from_bytes(case.data[:4], "big", signed=True)
        if case.complete:
            assert size == len(case.data) - 4, kind
        else:
            assert size != len(case.data) - 4, kind
