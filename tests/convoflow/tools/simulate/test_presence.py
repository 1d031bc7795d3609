"""Tests of the agents' simulated presence (convoflow/tools/simulate/presence.py)."""
from __future__ import annotations

import collections

from tests.convoflow.tools.simulate.helpers import us


def test_presence(by_type):
    pres = by_type["presence.changed"]
    agents = {e["agent_id"] for e in pres}
    assert len(agents) == 21  # 20 agents and the one never upserted
    away = collections.Counter(e.get("away_state") for e in pres if e["state"] == "AWAY")
    assert {"Lunch", "Break", "Training"} <= set(away)
    assert None in away  # AWAY without a custom away state
    states = collections.Counter(e["state"] for e in pres)
    assert states["AVAILABLE"] and states["AWAY"] and states["OFFLINE"]
    last, repeats, crossing, zero = {}, 0, 0, 0
    shift_day = {}
    prev_t = {}
    for e in pres:
        a, t = e["agent_id"], us(e["occurred_at"])
        k = (e["state"], e.get("away_state"))
        repeats += last.get(a) == k
        zero += prev_t.get(a) == t
        last[a], prev_t[a] = k, t
        day = t // 86_400_000_000
        if e["state"] == "AVAILABLE":
            shift_day.setdefault(a, day)
        elif e["state"] == "OFFLINE" and a in shift_day:
            crossing += shift_day.pop(a) != day
    assert repeats > 0 and crossing > 0 and zero > 0
    assert last["a-1"][0] != "OFFLINE"  # one shift never ends
