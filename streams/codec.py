"""The bytes of table values and bundles: JSON by orjson, with non-string dict keys allowed."""
from __future__ import annotations

import orjson


def dumps(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(value: bytes | None):
    return None if value is None else orjson.loads(value)
