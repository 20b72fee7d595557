"""Helpers for tests that drive real processes: poll for a condition, run a script as a user."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from kafkalite.cli.cluster import SCRIPTS

__all__ = ["wait_for", "run_script"]


def wait_for(predicate, timeout: float, what: str, *, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def run_script(name: str, *args: str, input: bytes | None = None,
               timeout: float = 60, env: dict | None = None) -> tuple[int, str, str]:
    """Run ``scripts/<name>`` with this interpreter; returns (exit code, stdout, stderr).
    ``env`` adds to (or, with None values, removes from) this process's environment."""
    env = {k: v for k, v in dict(os.environ, KAFKALITE_PYTHON=sys.executable,
                                  **(env or {})).items() if v is not None}
    r = subprocess.run([str(SCRIPTS / name), *args], input=input, capture_output=True,
                       timeout=timeout, env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()
