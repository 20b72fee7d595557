"""Kafka wire protocol, sans-IO (architecture layer L1).

* ``schema``      — declarative message schemas (``wire``, ``message``, type objects);
* ``codec``       — compiled per-version encoders/decoders (``encode``, ``encode_parts``, ``decode``);
* ``header``      — request/response headers and their versions;
* ``framing``     — ``FrameReader``, ``ServerConnection``, ``ClientConnection``;
* ``api_keys``    — ``ApiKey`` and the message registry;
* ``primitives``  — varints;
* ``messages``    — one module per API; importing it registers every message class.
"""

from kafkalite.protocol.api_keys import (
    ApiKey,
    registered_api_keys,
    request_class,
    response_class,
)
from kafkalite.protocol.codec import EncodeError, FileRegion, decode, encode, encode_parts
from kafkalite.protocol.framing import (
    ClientConnection,
    FrameReader,
    FrameTooLarge,
    InboundRequest,
    ServerConnection,
    UnsupportedVersionError,
)
from kafkalite.protocol.header import (
    RequestHeader,
    UnknownApiKey,
    decode_request_header,
    encode_request_header,
    encode_response_header,
    request_header_version,
    response_header_version,
)

__all__ = [
    "ApiKey",
    "ClientConnection",
    "EncodeError",
    "FileRegion",
    "FrameReader",
    "FrameTooLarge",
    "InboundRequest",
    "RequestHeader",
    "ServerConnection",
    "UnknownApiKey",
    "UnsupportedVersionError",
    "decode",
    "decode_request_header",
    "encode",
    "encode_parts",
    "encode_request_header",
    "encode_response_header",
    "registered_api_keys",
    "request_class",
    "request_header_version",
    "response_class",
    "response_header_version",
]
