import pytest

from kafkalite.storage import LogConfig

SMALL = LogConfig(segment_bytes=64 * 1024, index_interval_bytes=512)


@pytest.fixture
def config() -> LogConfig:
    return SMALL


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path / "topic-a-0"
