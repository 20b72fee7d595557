"""How the message browser shows keys, values and headers (pure).

Records are bytes; a browser needs text. Each one is rendered on the server so that what the
page shows is what the broker stored, decoded once and the same way for every user:

* ``text``: UTF-8; bytes that are not valid UTF-8 become U+FFFD and ``lossy`` is set, so the
  page can say that hex would be exact;
* ``json``: parsed and pretty-printed (2-space indent); data that does not parse falls back to
  text with ``note`` saying why, rather than an error for the whole page;
* ``hex``: a ``hexdump -C`` style dump (offset, 16 bytes, printable ASCII);
* ``auto``: JSON when the data is a JSON object or array, text when it is valid UTF-8 without
  control characters, else hex.

Large payloads are cut at :data:`MAX_SHOWN` bytes (``truncated``); the record's real size is
always reported.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["FORMATS", "MAX_SHOWN", "render", "hexdump", "guess_format"]

FORMATS = ("auto", "text", "json", "hex")
MAX_SHOWN = 16 * 1024
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def hexdump(data: bytes) -> str:
    """``hexdump -C``: 8-digit offset, two groups of 8 bytes, then ``|ascii|``."""
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {left:<23}  {right:<23}  |{ascii_}|")
    return "\n".join(lines)


def _strict_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json(text: str) -> Any:
    return json.loads(text)


def guess_format(data: bytes) -> str:
    """What ``auto`` picks for ``data`` (see the module docstring)."""
    text = _strict_text(data)
    return "hex" if text is None else _guess_text(text)


def _guess_text(text: str) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            _json(stripped)
            return "json"
        except ValueError:
            pass
    if any(ch < " " and ch not in _ALLOWED_CONTROLS or ch == "\x7f" for ch in text):
        return "hex"
    return "text"


def render(data: bytes | None, fmt: str = "auto") -> dict[str, Any]:
    """One key, value or header value for the browser.

    Returns:
        ``{"format", "size", "text", "truncated"}`` plus ``"lossy": True`` for text that
        was not valid UTF-8 and ``"note"`` when JSON was asked for but the data is not JSON;
        ``{"format": "null", "size": 0, "text": None}`` for a null.

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if data is None:
        return {"format": "null", "size": 0, "text": None, "truncated": False}
    size = len(data)
    truncated = size > MAX_SHOWN
    shown = bytes(data[:MAX_SHOWN])
    chosen = fmt
    if fmt == "auto":
        text = _text_of(shown, truncated)
        chosen = "hex" if text is None else _guess_text(text)
    out: dict[str, Any] = {"format": chosen, "size": size, "truncated": truncated}
    if chosen == "hex":
        out["text"] = hexdump(shown)
        return out
    if chosen == "json":
        text = _strict_text(shown)
        note = None
        if text is None:
            note = "not valid UTF-8, so not JSON"
        elif truncated:
            note = "too large to parse as JSON here"
        else:
            try:
                out["text"] = json.dumps(_json(text), indent=2, ensure_ascii=False)
                return out
            except ValueError as e:
                note = f"not JSON: {e}"
        out["format"] = "text"
        out["note"] = note
    text = _text_of(shown, truncated)
    if text is None:
        text = shown.decode("utf-8", errors="replace")
        out["lossy"] = True
    out["text"] = text
    return out


def _text_of(data: bytes, truncated: bool) -> str | None:
    """Strict UTF-8; when ``data`` was cut, the cut may split one character, which is not a
    decoding error: up to 3 trailing bytes are then dropped."""
    text = _strict_text(data)
    if text is not None or not truncated:
        return text
    for cut in range(1, 4):
        text = _strict_text(data[:-cut])
        if text is not None:
            return text
    return None
