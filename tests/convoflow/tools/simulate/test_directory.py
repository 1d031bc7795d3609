"""Tests of the simulated directory (convoflow/tools/simulate/directory.py)."""
from __future__ import annotations

import collections

from tests.convoflow.tools.simulate.helpers import DIRECTORY_TYPES


def test_directory_first(events, by_type):
    first_other = next(i for i, e in enumerate(events) if e["type"] not in DIRECTORY_TYPES)
    head = {e["type"] for e in events[:first_other]}
    assert head == {"channel.upserted", "team.upserted", "agent.upserted",
                    "virtual_agent.upserted", "topic.upserted", "tag.upserted"}
    channels = by_type["channel.upserted"]
    assert len(channels) == 4
    assert {c["medium"] for c in channels} <= {"twitter", "facebook", "whatsapp", "sms",
                                               "messenger", "instagram"}
    displays = [c.get("display_name") for c in channels]
    assert any("," in d for d in displays if d)
    assert any(not d.isascii() for d in displays if d)
    assert all(t.get("name") and t.get("created_at") for t in by_type["team.upserted"])
    assert all(a.get("name") for a in by_type["agent.upserted"])
    assert sum(1 for a in by_type["agent.upserted"] if a.get("email") and a.get("reference")) >= 19
    assert len(by_type["topic.deleted"]) == 1 and len(by_type["tag.deleted"]) == 1
    names = collections.defaultdict(list)
    for a in by_type["agent.upserted"]:
        names[a["agent_id"]].append(a["name"])
    renamed = [k for k, v in names.items() if len(v) > 1]
    assert len(renamed) == 1 and len(set(names[renamed[0]])) == 2


def test_ghost_ids_are_used_but_never_upserted(events, by_type):
    def upserted(kind):
        return {e[f"{kind}_id"] for e in by_type[f"{kind}.upserted"]}

    def used(field, types=None):
        return {e[field] for e in events if e.get(field) and (types is None or e["type"] in types)
                and not e["type"].endswith((".upserted", ".deleted"))}

    assert used("agent_id") - upserted("agent")
    assert used("team_id") - upserted("team")
    assert used("channel_id") - upserted("channel")
    assert used("virtual_agent_id") - upserted("virtual_agent")
    assert used("topic_id") - upserted("topic")
    assert used("tag_id") - upserted("tag")
