"""One run of the simulation: the directory, the agents' shifts, the conversations, in that order."""
from __future__ import annotations

import gc

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import DAY, HOUR, MIN, MS, parse_start
from convoflow.tools.simulate.contacts import Contact, Contacts
from convoflow.tools.simulate.conversations import Conversations
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import EdgeCases, answer_never_sent_survey
from convoflow.tools.simulate.output import in_time_order
from convoflow.tools.simulate.presence import Presence
from convoflow.tools.simulate.vocabulary import HOUR_CUMULATIVE_WEIGHTS, HOURS


def generate(seed: int = 1, agents: int = 20, teams: int = 4, conversations: int = 500,
             days: int = 3, start: str = "2024-07-15T00:00:00Z", channels: int = 4,
             virtual_agents: int = 2) -> list[dict]:
    """Events of a simulated contact centre, sorted by ``occurred_at``.

    Deterministic: the same arguments always return the same events.  Each
    event is a dict with ``event_id``, ``type``, ``occurred_at`` and the fields
    of its type; every event is valid per the event contract.
    """
    if agents < 1 or teams < 1 or channels < 1 or days < 1:
        raise ValueError("agents, teams, channels and days must be at least 1")
    if conversations < 0 or virtual_agents < 0:
        raise ValueError("conversations and virtual_agents must not be negative")
    # millions of small dicts, no cycles: the cyclic GC would only slow this down
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return run(Centre(seed, parse_start(start), days), agents, teams, conversations, channels, virtual_agents)
    finally:
        if was_enabled:
            gc.enable()


def run(centre: Centre, agents: int, teams: int, conversations: int, channels: int,
        virtual_agents: int) -> list[dict]:
    edge = EdgeCases(virtual_agents)
    directory = Directory(centre, agents, teams, channels, virtual_agents)
    presence = Presence(centre, directory, edge)
    contacts = Contacts(centre, directory, edge)
    flow = Conversations(centre, directory, presence, contacts, edge)
    directory.upsert_all()
    presence.shifts()
    starts = start_times(centre, conversations)
    deck = contact_deck(centre, conversations)
    made: dict[int, Contact] = {}
    for ci, t in enumerate(starts):
        k = deck[ci]
        ct = made.get(k)
        if ct is None:
            ct = made[k] = contacts.make(k, t)
        flow.conversation(ci, t, ct)
    directory.change_later()
    if conversations:
        answer_never_sent_survey(centre)
    return in_time_order(centre)


def start_times(centre: Centre, n: int) -> list[int]:
    """When each of ``n`` conversations starts, in order: any day, more often in office hours,
    none in the first two minutes (the directory comes first)."""
    rng = centre.rng
    starts = []
    for _ in range(n):
        d = centre.below(centre.days)
        h = rng.choices(HOURS, cum_weights=HOUR_CUMULATIVE_WEIGHTS)[0]
        t = centre.t0 + d * DAY + h * HOUR + centre.below(HOUR // MS) * MS
        if t < centre.t0 + 2 * MIN:
            t = centre.t0 + 2 * MIN + centre.below(60_000) * MS
        starts.append(t)
    starts.sort()
    return starts


def contact_deck(centre: Centre, n: int) -> list[int]:
    """The contact (an index) of each of ``n`` conversations: about n / 2 contacts, each at least
    once, a few of them often."""
    rng = centre.rng
    n_contacts = max(1, n // 2)
    deck = list(range(min(n, n_contacts)))
    for _ in range(n - len(deck)):
        deck.append(int(n_contacts * rng.random() ** 2))
    rng.shuffle(deck)
    return deck
