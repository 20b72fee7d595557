"""How the message browser renders keys, values and headers."""

from __future__ import annotations

import json

import pytest

from kafkalite.web.console.render import MAX_SHOWN, guess_format, hexdump, render


def test_auto_picks_json_text_or_hex():
    assert guess_format(b'{"a": 1}') == "json"
    assert guess_format(b" [1, 2] ") == "json"
    assert guess_format(b"{not json") == "text"
    assert guess_format("héllo\twörld\n".encode()) == "text"
    assert guess_format(b"\x00\x01\x02") == "hex"
    assert guess_format(b"\xff\xfe") == "hex"


def test_json_is_pretty_printed():
    out = render(b'{"id":6,"item":"w\xc3\xa9"}', "json")
    assert out["format"] == "json"
    assert json.loads(out["text"]) == {"id": 6, "item": "wé"}
    assert out["text"].startswith('{\n  "id": 6')


def test_json_asked_for_but_not_json_falls_back_to_text():
    out = render(b"plain", "json")
    assert out["format"] == "text" and out["text"] == "plain"
    assert out["note"].startswith("not JSON")


def test_text_of_invalid_utf8_is_marked_lossy():
    out = render(b"ok\xff", "text")
    assert out["text"] == "ok\ufffd" and out["lossy"] is True


def test_hexdump_layout():
    assert hexdump(b"hello, world!!!!AB") == (
        "00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 21 21 21  |hello, world!!!!|\n"
        "00000010  41 42                                             |AB|")
    assert render(b"\x00", "hex")["text"].startswith("00000000  00 ")


def test_null_and_sizes():
    assert render(None, "auto") == {"format": "null", "size": 0, "text": None,
                                    "truncated": False}
    assert render(b"", "auto") == {"format": "text", "size": 0, "text": "",
                                   "truncated": False}


def test_large_values_are_cut_without_breaking_a_character():
    data = b"a" + "é".encode() * MAX_SHOWN   # the cut falls inside a two-byte character
    out = render(data, "auto")
    assert out["truncated"] is True and out["size"] == len(data)
    assert out["format"] == "text" and "lossy" not in out
    assert out["text"].endswith("é")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render(b"x", "xml")
