"""The README's code blocks, for the tests that run them as a user would copy them."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["readme_blocks", "README"]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks(heading: str, lang: str | None = None) -> list[tuple[str, str]]:
    """``(language, text)`` of each fenced block under the ``## heading`` section (up to the
    next ``## ``), only those of ``lang`` when given."""
    text = README.read_text()
    marker = f"\n## {heading}\n"
    assert marker in text, f"README has no section {heading!r}"
    section = text.split(marker, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)
    return [(k, v) for k, v in blocks if lang is None or k == lang]
