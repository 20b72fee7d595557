import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.errors import CorruptMessage
from kafkalite.records.varint import encode_varint, read_varint, size_of_varint

# wire-protocol.md §3
DOC_EXAMPLES = [(0, "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"),
                (64, "8001"), (300, "d804")]


@pytest.mark.parametrize(("value", "encoded"), DOC_EXAMPLES)
def test_documented_examples(value, encoded):
    assert encode_varint(value).hex() == encoded
    assert read_varint(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)
    assert size_of_varint(value) == len(encoded) // 2


def test_extremes():
    assert encode_varint(-(2**31)) == b"\xff\xff\xff\xff\x0f"
    assert len(encode_varint(2**63 - 1)) == 10
    assert read_varint(encode_varint(-(2**63)), 0) == (-(2**63), 10)


@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=3))
def test_round_trip(value, prefix):
    data = prefix + encode_varint(value) + b"\x99"
    assert read_varint(data, len(prefix)) == (value, len(data) - 1)
    assert size_of_varint(value) == len(encode_varint(value))


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\xff" * 11])
def test_malformed(data):
    with pytest.raises(CorruptMessage):
        read_varint(data, 0)
