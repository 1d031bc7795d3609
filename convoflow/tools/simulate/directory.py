"""The directory: channels, teams, agents, virtual agents, topics and tags, and the ids that name them.

Everything is upserted at the start of the first day; later on one agent is
renamed and one topic and one tag are deleted. A few ids are used in events
but never upserted: the channel, team, agent and virtual agent one past the
last, topic ``tp-7`` and tag ``tg-6``.
"""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import DAY, MIN, MS, SEC
from convoflow.tools.simulate.vocabulary import (
    CHANNEL_DISPLAY_NAMES, FIRST_NAMES, FIRST_NAMES_ASCII, LAST_NAMES, LAST_NAMES_ASCII, MEDIA, MEDIUM_LABEL,
    TAG_NAMES, TEAM_NAMES, TOPIC_NAMES, VIRTUAL_AGENT_NAMES, ZONE_START_MIN,
)

STEP = 137 * MS  # between two upserts at the start


class Directory:
    """The ids of everything the directory names. An agent is an index into ``agent_ids``; index
    ``n_agents`` is the ghost agent, in the ghost team."""

    def __init__(self, centre: Centre, agents: int, teams: int, channels: int, virtual_agents: int) -> None:
        self.centre = centre
        self.n_agents = agents
        self.n_channels = channels
        self.channels = [(f"ch-{i + 1}", MEDIA[i % len(MEDIA)]) for i in range(channels)]
        self.ghost_channel = (f"ch-{channels + 1}", "whatsapp")
        self.teams = [f"t-{i + 1}" for i in range(teams)]
        self.ghost_team = f"t-{teams + 1}"
        self.agent_ids = [f"a-{i + 1}" for i in range(agents + 1)]
        self.agent_team = [self.teams[i % teams] for i in range(agents)] + [self.ghost_team]
        # a few agents also work for a second team
        self.agent_team2 = [
            (self.teams[(i + 1) % teams] if teams > 1 and i % 7 == 3 else None)
            for i in range(agents)
        ] + [None]
        self.agent_zone = [(i % teams) % len(ZONE_START_MIN) for i in range(agents)] + [0]
        self.va_ids = [f"va-{i + 1}" for i in range(virtual_agents)]
        self.ghost_va = f"va-{virtual_agents + 1}"
        # topics tp-1..tp-6 upserted, tp-7 ghost; tags tg-1..tg-5 upserted, tg-6 ghost
        self.topic_ids = [f"tp-{i + 1}" for i in range(7)]
        self.tag_ids = [f"tg-{i + 1}" for i in range(6)]
        self.deleted_topic = "tp-6"
        self.deleted_tag = "tg-4"

    def upsert_all(self) -> None:
        """Every channel, team, agent, virtual agent, topic and tag, one after the other from t0 + 1 s."""
        c = self.centre
        rng = c.rng
        t = c.t0 + 1 * SEC
        for i, (cid, medium) in enumerate(self.channels):
            suffix = "" if i < len(MEDIA) else f" {i + 1}"
            f = {"channel_id": cid, "medium": medium,
                 "name": f"Acme {MEDIUM_LABEL[medium]}{suffix}"}
            disp = CHANNEL_DISPLAY_NAMES[i % len(CHANNEL_DISPLAY_NAMES)]
            if disp is not None:
                f["display_name"] = disp + suffix
            c.emit(t, "channel.upserted", f)
            t += STEP
        for i, tid in enumerate(self.teams):
            created = c.t0 - rng.randint(30, 700) * DAY + rng.randint(8 * 3600, 17 * 3600) * SEC
            f = {"team_id": tid, "name": TEAM_NAMES[i % len(TEAM_NAMES)]
                 + ("" if i < len(TEAM_NAMES) else f" {i + 1}"),
                 "created_at": c.fmt.offset(created, 120) if i == 1 else c.fmt.whole(created)}
            c.emit(t, "team.upserted", f)
            t += STEP
        for i in range(self.n_agents):
            c.emit(t, "agent.upserted", self.agent(i))
            t += STEP
        for i, vid in enumerate(self.va_ids):
            c.emit(t, "virtual_agent.upserted",
                   {"virtual_agent_id": vid, "name": VIRTUAL_AGENT_NAMES[i % len(VIRTUAL_AGENT_NAMES)]})
            t += STEP
        for i in range(6):
            c.emit(t, "topic.upserted", {"topic_id": self.topic_ids[i], "name": TOPIC_NAMES[i]})
            t += STEP
        for i in range(5):
            c.emit(t, "tag.upserted", {"tag_id": self.tag_ids[i], "name": TAG_NAMES[i]})
            t += STEP

    def agent(self, i: int, name_suffix: str = "") -> dict:
        """Agent ``i``'s upsert: every agent has a name, all but the fifth an email and a reference."""
        fi = (i * 7 + 3) % len(FIRST_NAMES)
        la = (i * 5 + 1) % len(LAST_NAMES)
        f = {"agent_id": self.agent_ids[i], "name": f"{FIRST_NAMES[fi]} {LAST_NAMES[la]}{name_suffix}"}
        if i != 4:
            f["email"] = f"{FIRST_NAMES_ASCII[fi]}.{LAST_NAMES_ASCII[la]}{i + 1}@acme.example"
            f["reference"] = f"EMP-{1000 + i + 1}"
        return f

    def change_later(self) -> None:
        """One agent renamed (the whole record replaced, email and reference kept), one topic and
        one tag deleted halfway through."""
        c = self.centre
        i = 1 if self.n_agents > 1 else 0
        c.emit(c.t0 + c.days * DAY * 2 // 5 + 17 * MIN + 333 * MS, "agent.upserted", self.agent(i, "-Okafor"))
        c.emit(c.mid, "topic.deleted", {"topic_id": self.deleted_topic})
        c.emit(c.mid + 250 * MS, "tag.deleted", {"tag_id": self.deleted_tag})

    def who(self, a: int | None, team: str | None, va: str | None) -> dict:
        """The fields that name who acts: agent ``a`` (and its team) or a virtual agent."""
        f = {}
        if a is not None:
            f["agent_id"] = self.agent_ids[a]
            if team is not None:
                f["team_id"] = team
        if va is not None:
            f["virtual_agent_id"] = va
        return f

    def team_of(self, a: int) -> str:
        """The team agent ``a`` works for in one conversation: mostly its own, sometimes its second."""
        t2 = self.agent_team2[a]
        if t2 is not None and self.centre.rng.random() < 0.35:
            return t2
        return self.agent_team[a]
