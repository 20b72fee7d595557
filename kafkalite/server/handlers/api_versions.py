"""ApiVersions (key 18), v0–3.

v3 is flexible and carries the client's software name/version, which must match Kafka's
pattern or the answer is INVALID_REQUEST (librdkafka then retries at v0). A request at a
version above 3 reaches us with ``req=None`` (KIP-511): we answer UNSUPPORTED_VERSION with a v0
body listing our ranges, and the framing layer encodes it as v0.
"""

from __future__ import annotations

import re

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.api_versions import ApiVersion, ApiVersionsResponse
from kafkalite.server.dispatch import handler, supported_versions

_SOFTWARE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$")


def _api_keys() -> list[ApiVersion]:
    return [ApiVersion(api_key=k, min_version=lo, max_version=hi)
            for k, (lo, hi) in supported_versions().items()]


@handler(ApiKey.API_VERSIONS, versions=(0, 3))
async def handle_api_versions(ctx, req):
    if req is None:
        return ApiVersionsResponse(error_code=errors.UnsupportedVersion.code, api_keys=_api_keys())
    if ctx.api_version >= 3 and not (_SOFTWARE.match(req.client_software_name or "")
                                     and _SOFTWARE.match(req.client_software_version or "")):
        return ApiVersionsResponse(error_code=errors.InvalidRequest.code, api_keys=_api_keys())
    return ApiVersionsResponse(error_code=0, api_keys=_api_keys(), throttle_time_ms=0)
