"""Compact UTF-8 JSON for the hot answers (Beacon results, htsget tickets): orjson, a small
fraction of the standard encoder's CPU on long strings such as a ticket's base64 `data:` URLs;
the standard encoder only for what orjson refuses (an integer beyond 64 bits)."""

import json

import orjson


def dumps(body) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
