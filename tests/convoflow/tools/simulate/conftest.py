"""The default simulation, made once for every test of the package, and its events grouped."""
from __future__ import annotations

import collections

import pytest

from convoflow.tools.simulate import generate


@pytest.fixture(scope="package")
def events() -> list[dict]:
    return generate()


@pytest.fixture(scope="package")
def by_type(events) -> dict[str, list[dict]]:
    out = collections.defaultdict(list)
    for e in events:
        out[e["type"]].append(e)
    return out


@pytest.fixture(scope="package")
def by_conv(events) -> dict[str, list[dict]]:
    out = collections.defaultdict(list)
    for e in events:
        if "conversation_id" in e:
            out[e["conversation_id"]].append(e)
    return out
