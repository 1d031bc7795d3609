"""bench.facts reads every field of every fact both ways, on a small simulated stream."""
import pytest

from bench import facts


@pytest.mark.parametrize("part", sorted(facts.LAYOUTS))
def test_both_readers_read_every_field_of_a_fact(part):
    layout = facts.LAYOUTS[part]
    fact = next(f for s in facts.states(10).values() for f in s.get(part, {}).values())
    by_positions, by_views = facts.readers(layout)
    by_positions([fact])
    by_views([fact])
    with pytest.raises(IndexError):
        by_positions([fact[:-1]])  # the last position is read too
    with pytest.raises(TypeError):
        by_views([fact[:-1]])


def test_measure_gives_every_figure():
    figures = facts.measure(conversations=20, rounds=1)
    assert set(figures) == {f"{layout.__name__}_{how}_us" for layout in facts.LAYOUTS.values()
                            for how in ("positions", "views")} | {
        "write_per_conversation_us"} | {f"{t}_per_conversation_us" for t in facts.REPORTED}
    assert all(v > 0 for v in figures.values()), figures
