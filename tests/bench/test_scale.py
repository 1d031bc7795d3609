"""bench.scale: the small stream has the large stream's mix of events."""
from collections import Counter

from bench import scale
from convoflow.tools.simulate import simulation


def test_the_small_streams_agents_are_the_large_streams_scaled_to_its_size():
    assert scale.small_agents(scale.parse_args([])) == 100  # 1,000 agents × 10,000 / 100,000 conversations
    assert scale.small_agents(scale.parse_args(["--small", "1", "--large", "100000"])) == 1
    assert scale.small_agents(scale.parse_args(["--small-agents", "250"])) == 250


def presence_share(conversations: int, agents: int) -> float:
    events = simulation.generate(seed=1, agents=agents, teams=4, conversations=conversations, days=3)
    kinds = Counter(e["type"] for e in events)
    return kinds["presence.changed"] / len(events)


def test_scaled_agents_keep_the_mix_of_events_that_the_same_agents_change():
    args = scale.parse_args(["--small", "300", "--large", "3000", "--agents", "100"])
    large = presence_share(args.large, args.agents)
    scaled = presence_share(args.small, scale.small_agents(args))
    same_agents = presence_share(args.small, args.agents)
    assert abs(scaled - large) < 0.05
    assert same_agents > large + 0.2
