"""Tests of the draws every part of the simulation shares (convoflow/tools/simulate/centre.py)."""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import MS, SEC, parse_start


def test_draws_are_in_range_and_repeat_with_the_seed():
    a, b = Centre(4, parse_start("2024-07-15T00:00:00Z"), 2), Centre(4, 0, 1)
    draws = [(a.secs(2, 5), a.below(7), a.pick("xyz"), a.expo(10, cap_s=20)) for _ in range(500)]
    assert draws == [(b.secs(2, 5), b.below(7), b.pick("xyz"), b.expo(10, cap_s=20)) for _ in range(500)]
    assert all(2 * SEC <= s <= 5 * SEC and s % MS == 0 for s, _, _, _ in draws)
    assert {n for _, n, _, _ in draws} == set(range(7))
    assert {p for _, _, p, _ in draws} == set("xyz")
    assert all(MS <= e <= 20 * SEC for _, _, _, e in draws)


def test_emit_keeps_the_order_and_leaves_id_and_time_to_the_output():
    c = Centre(1, 0, 1)
    c.emit(5, "tag.upserted", {"tag_id": "tg-1"})
    c.emit(3, "tag.deleted", {"tag_id": "tg-1"})
    assert c.out == [(5, {"event_id": "", "type": "tag.upserted", "occurred_at": "", "tag_id": "tg-1"}),
                     (3, {"event_id": "", "type": "tag.deleted", "occurred_at": "", "tag_id": "tg-1"})]
