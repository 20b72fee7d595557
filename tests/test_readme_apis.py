"""The README's "Supported Kafka APIs" list is what ApiVersions advertises."""

from __future__ import annotations

import re
from pathlib import Path

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.server.dispatch import supported_versions

README = Path(__file__).resolve().parents[1] / "README.md"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def test_readme_lists_the_advertised_versions() -> None:
    section = README.read_text().split("## Supported Kafka APIs", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    listed = {}
    for name, low, high in re.findall(r"\b([A-Z][A-Za-z]+) (\d+)(?:–(\d+))?", text):
        listed[ApiKey[_snake(name)]] = (int(low), int(high or low))
    advertised = {ApiKey(k): v for k, v in supported_versions().items()}
    assert listed == advertised
