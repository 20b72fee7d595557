import os

import pytest

from kafkalite.storage import (
    CorruptCheckpoint, read_checkpoint, read_meta_properties, write_checkpoint,
    write_meta_properties,
)


def test_checkpoint_format_and_round_trip(tmp_path):
    path = tmp_path / "recovery-point-offset-checkpoint"
    offsets = {("b-topic", 1): 99, ("a.topic-x", 0): 1234, ("a.topic-x", 10): 0}
    write_checkpoint(path, offsets)
    assert path.read_text() == "0\n3\na.topic-x 0 1234\na.topic-x 10 0\nb-topic 1 99\n"
    assert read_checkpoint(path) == offsets
    write_checkpoint(path, {})
    assert path.read_text() == "0\n0\n" and read_checkpoint(path) == {}
    assert read_checkpoint(tmp_path / "missing") == {}
    assert sorted(os.listdir(tmp_path)) == ["recovery-point-offset-checkpoint"]


@pytest.mark.parametrize("text", [
    "", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "zero\n0\n",
])
def test_corrupt_checkpoints_are_rejected(tmp_path, text):
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(CorruptCheckpoint):
        read_checkpoint(path)


def test_kafka_written_checkpoint_is_read(tmp_path):
    path = tmp_path / "cp"
    path.write_text("0\n2\n__consumer_offsets 49 0\nmy-topic 0 42\n")
    assert read_checkpoint(path) == {("__consumer_offsets", 49): 0, ("my-topic", 0): 42}


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "cp"
    write_checkpoint(path, {("t", 0): 1})

    def crash(src, dst):
        raise OSError("crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_checkpoint(path, {("t", 0): 2})
    assert read_checkpoint(path) == {("t", 0): 1}  # the old file is intact


def test_meta_properties_round_trip(tmp_path):
    assert read_meta_properties(tmp_path) is None
    write_meta_properties(tmp_path, {"version": "0", "broker.id": "3",
                                     "cluster.id": "5K9xTlH2SjuR0UeQVhDOyA"})
    text = (tmp_path / "meta.properties").read_text()
    assert text.startswith("#")
    assert "broker.id=3\n" in text and "version=0\n" in text
    assert read_meta_properties(tmp_path) == {"version": "0", "broker.id": "3",
                                              "cluster.id": "5K9xTlH2SjuR0UeQVhDOyA"}
    write_meta_properties(tmp_path, {"odd": "a=b:c#d\\e"})
    assert read_meta_properties(tmp_path) == {"odd": "a=b:c#d\\e"}


def test_meta_properties_as_java_writes_them(tmp_path):
    (tmp_path / "meta.properties").write_text(
        "#\n#Thu Nov 21 19:15:00 UTC 2024\ncluster.id=abc-_XYZ\nversion = 0\n"
        "broker.id: 7\n! bang comment\n")
    assert read_meta_properties(tmp_path) == {"cluster.id": "abc-_XYZ", "version": "0",
                                              "broker.id": "7"}
