"""Pure parts of the ZooKeeper launcher and session helpers (no JVM, no sockets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kafkalite.zk import launcher
from kafkalite.zk.launcher import (QUORUM_MAIN, PropertiesServer, ZooKeeperNotFound,
                                   read_properties, zookeeper_classpath)
from kafkalite.zk.session import split_chroot

KAFKA_ZOOKEEPER_PROPERTIES = """\
# the directory where the snapshot is stored.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# disable the per-ip limit on the number of connections
maxClientCnxns=0
admin.enableServer=false
# admin.serverPort=8080
"""


def test_read_properties(tmp_path: Path) -> None:
    p = tmp_path / "zookeeper.properties"
    p.write_text(KAFKA_ZOOKEEPER_PROPERTIES + "! bang comment\nkey : spaced value\n"
                 "long=a\\\n  b\n")
    assert read_properties(p) == {"dataDir": "/tmp/zookeeper", "clientPort": "2181",
                                  "maxClientCnxns": "0", "admin.enableServer": "false",
                                  "key": "spaced value", "long": "ab"}


def test_properties_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    p = tmp_path / "zk.properties"
    p.write_text(f"dataDir={tmp_path}/data\nclientPort=12345\n")
    s = PropertiesServer(p)
    assert s.hosts == "127.0.0.1:12345"
    assert s.pid_files() == [tmp_path / "data" / launcher.PID_FILE,
                             tmp_path / "tmp" / "kafkalite-zookeeper" / "12345.pid"]
    assert QUORUM_MAIN in s.command() and str(p) == s.command()[-1]
    p.write_text("clientPort=1\n")
    with pytest.raises(ValueError, match="dataDir"):
        PropertiesServer(p)


def test_classpath_from_zookeeper_home(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    for name in ("zookeeper-3.8.4.jar", "netty.jar"):
        (tmp_path / "lib" / name).write_bytes(b"")
    cp = zookeeper_classpath({"ZOOKEEPER_HOME": str(tmp_path)}).split(os.pathsep)
    assert cp == [str(tmp_path / "conf"), str(tmp_path / "lib" / "netty.jar"),
                  str(tmp_path / "lib" / "zookeeper-3.8.4.jar")]


def test_classpath_errors_name_the_fixes(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ZooKeeperNotFound, match="has no lib"):
        zookeeper_classpath({"ZOOKEEPER_HOME": str(tmp_path)})
    monkeypatch.setattr(launcher, "DEBIAN_JAR", str(tmp_path / "missing.jar"))
    with pytest.raises(ZooKeeperNotFound) as info:
        zookeeper_classpath({})
    for fix in ("apt-get install", "ZOOKEEPER_HOME", "KAFKALITE_ZK_CONNECT"):
        assert fix in str(info.value)


def test_stale_pid_files_are_removed_without_signalling(tmp_path: Path) -> None:
    f = tmp_path / "x.pid"
    f.write_text(f"{os.getpid()}\n")   # alive, but not ZooKeeper: must not be signalled
    assert launcher.stop_from_pid_files([f]) == []
    assert not f.exists()


@pytest.mark.parametrize("connect,expected", [
    ("h:2181", ("h:2181", None)),
    ("h1:2181,h2:2181/kafka", ("h1:2181,h2:2181", "/kafka")),
    ("h:2181/a/b/", ("h:2181", "/a/b")),
    ("h:2181/", ("h:2181", None)),
])
def test_split_chroot(connect: str, expected: tuple) -> None:
    assert split_chroot(connect) == expected
