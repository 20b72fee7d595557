"""The README's Python client example, run as written against a real broker."""

from __future__ import annotations

import subprocess
import sys

from kafkalite.testing.readme import readme_blocks


def test_python_client_example(broker):
    [(_, source)] = readme_blocks("Python client (trio)", "python")
    assert '"localhost:9092"' in source
    r = subprocess.run([sys.executable, "-c", source.replace("localhost:9092", broker.bootstrap)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['hello 0', 'hello 1', 'hello 2']"
