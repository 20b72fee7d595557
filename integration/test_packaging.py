"""The wheel, as a new user gets it: built from the checkout, installed into a fresh virtualenv
outside it, then the commands it installs and an application's test suite that uses the pytest
plugin, and ``kafkalite cluster`` with the configs shipped in the package."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kafkalite.cli.cluster import REPO_ROOT, broker_ready, free_port
from kafkalite.testing.readme import readme_blocks

SAMPLE = Path(__file__).parent / "sample_project"


def run(cmd, *, cwd, env, timeout=600, check=True):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin dir, clean environment) with the freshly built wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "KAFKALITE_PYTHON")}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist",
         REPO_ROOT], cwd=root, env=env)
    wheels = list((root / "dist").glob("kafkalite-*.whl"))
    assert len(wheels) == 1, wheels
    run([sys.executable, "-m", "venv", root / "venv"], cwd=root, env=env)
    bin_dir = root / "venv" / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "-q", wheels[0], "pytest",
         "confluent-kafka"], cwd=root, env=env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return bin_dir, env, root


def test_installed_commands_name_themselves(installed):
    bin_dir, env, root = installed
    r = run([bin_dir / "kafkalite", "--help"], cwd=root, env=env)
    assert r.stdout.startswith("Usage: kafkalite ")
    assert "topics" in r.stdout and "cluster" in r.stdout
    r = run([bin_dir / "kafka-topics", "--help"], cwd=root, env=env)
    assert r.stdout.startswith("Usage: kafka-topics ")
    r = run([bin_dir / "kafkalite", "topics", "--no-such-flag"], cwd=root, env=env, check=False)
    assert r.returncode == 2 and "Usage: kafkalite topics" in r.stderr
    # the package runs from the venv, not from this checkout
    r = run([bin_dir / "python", "-c", "import kafkalite; print(kafkalite.__file__)"],
            cwd=root, env=env)
    assert str(root / "venv") in r.stdout


def test_an_application_suite_with_the_pytest_plugin(installed):
    bin_dir, env, root = installed
    app = root / "app"
    shutil.copytree(SAMPLE, app)
    # the README's example, as written, is one more test of the application
    [(_, example)] = readme_blocks("Testing your application with a real cluster", "python")
    (app / "test_readme_example.py").write_text(example)
    r = run([bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=app,
            env=env, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "4 passed" in r.stdout


def test_kafkalite_cluster_from_the_shipped_configs(installed):
    bin_dir, env, root = installed
    workdir = root / "cluster"
    workdir.mkdir()
    zk_port, broker_port = free_port(), free_port()
    env = dict(env, KAFKALITE_ZK_PORT=str(zk_port), KAFKALITE_BROKER_PORT=str(broker_port))
    env.pop("KAFKALITE_ZK_CONNECT", None)
    out = open(workdir / "cluster.out", "wb")
    proc = subprocess.Popen([str(bin_dir / "kafkalite"), "cluster", "--brokers", "1"],
                            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not broker_ready("localhost", broker_port, 0):
            assert proc.poll() is None, (workdir / "cluster.out").read_text()
            assert time.monotonic() < deadline, (workdir / "cluster.out").read_text()
            time.sleep(0.2)
        r = run([bin_dir / "kafka-topics", "--create", "--topic", "shipped", "--partitions", "2",
                 "--replication-factor", "1", "--bootstrap-server", f"localhost:{broker_port}"],
                cwd=workdir, env=env)
        assert r.stdout.strip() == "Created topic shipped."
        # the broker read the shipped server.properties (its state goes under ./.cluster)
        assert (workdir / ".cluster" / "broker-0" / "server.properties").is_file()
        props = (workdir / ".cluster" / "broker-0" / "server.properties").read_text()
        assert "log.retention.hours=168" in props
    finally:
        proc.send_signal(signal.SIGINT)  # the supervisor stops its brokers and ZooKeeper
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
