"""Conversations: how each one goes, from its first message to being left open or resolved.

A conversation starts with the contact's inbound message and NEW (a few start
with an agent's proactive outbound); about 30 % first go through a virtual
agent, which resolves it or hands it over. Agents pick it up (sometimes one
only looks and leaves: cherry-picking), reply, set it PENDING, move it,
resolve it; the contact may answer and reopen it; the platform resolves some
in bulk or after a day; some stay open.
"""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import MIN, SEC
from convoflow.tools.simulate.contacts import Contact, Contacts
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import EdgeCases
from convoflow.tools.simulate.handling import Handling
from convoflow.tools.simulate.messages import Messages
from convoflow.tools.simulate.presence import Presence
from convoflow.tools.simulate.vocabulary import AUTOMATION_TEXTS, HANDOVER_REASONS, PROACTIVE_TEXTS, VIRTUAL_AGENT_TEXTS


class Conversation:
    """A conversation as the simulation goes: its channel, contact, and the messages and topics so far."""

    __slots__ = ("id", "ct", "ch", "lang", "msgs", "inbound", "topics", "medium")

    def __init__(self, cid: str, ct: Contact, ch: str, medium: str) -> None:
        self.id = cid
        self.ct = ct
        self.ch = ch
        self.medium = medium
        self.lang = ct.lang
        self.msgs: list[str] = []
        self.inbound: list[str] = []
        self.topics: list[str] = []


class Conversations:
    def __init__(self, centre: Centre, directory: Directory, presence: Presence, contacts: Contacts,
                 edge: EdgeCases) -> None:
        self.centre = centre
        self.directory = directory
        self.presence = presence
        self.contacts = contacts
        self.edge = edge
        self.messages = Messages(centre, directory, edge)
        self.handling = Handling(centre, directory, edge)

    def conversation(self, ci: int, t: int, ct: Contact) -> None:
        """Conversation ``c-<ci + 1>`` of contact ``ct``, from ``t`` to its end."""
        centre = self.centre
        directory = self.directory
        rng = centre.rng
        r = rng.random()
        if self.edge.need_ghost_channel and ci >= 7:
            self.edge.need_ghost_channel = False
            ch, medium = directory.ghost_channel
        elif r < 0.01:
            ch, medium = directory.ghost_channel
        elif r < 0.12:
            ch, medium = directory.channels[centre.below(directory.n_channels)]
        else:
            ch, medium = directory.channels[ct.home]
        c = Conversation(f"c-{ci + 1:06d}", ct, ch, medium)
        if not ct.seen:
            ct.seen = True
            self.contacts.attributes(ct, t + centre.secs(10, 900))

        prev_agent = None
        if rng.random() < 0.03:
            # proactive outbound first
            pick = self.presence.pick_agent(t)
            if pick is None:
                return
            a, t = pick
            team = directory.team_of(a)
            self.messages.message(c, t, "OUTBOUND", "AGENT", centre.pick(PROACTIVE_TEXTS),
                                  mtype="TEMPLATE" if rng.random() < 0.6 else "TEXT",
                                  agent=a, team=team, omt="PROACTIVE")
            if rng.random() < 0.35:
                # no answer expected: the agent resolves it right away
                self.handling.resolve_by_agent(c, t + centre.secs(2, 20), a, team)
                return
            t += centre.expo(1800)
            prev_agent = a
        m1 = self.messages.inbound(c, t)
        t += centre.secs(0.05, 1.5)
        self.handling.new(c, t, "CONTACT_MESSAGE", m1)
        if rng.random() < 0.1:
            t += centre.secs(0.5, 3)
            self.messages.message(c, t, "OUTBOUND", "AUTOMATION", centre.pick(AUTOMATION_TEXTS),
                                  sut="AUTOMATED_MESSAGE" if rng.random() < 0.5 else None)
        t = self.messages.more_inbound(c, t)  # more messages while waiting: no new NEW

        resolved = False
        if directory.va_ids and rng.random() < 0.3:
            t, resolved = self.va_phase(c, t)
            if resolved and rng.random() < 0.25:
                self.handling.csat(c, t, None, None)
        cycles = 0
        while True:
            cycles += 1
            if resolved:
                if cycles > 5 or rng.random() >= 0.15:
                    return
                # reopened by a later inbound
                t += centre.expo(4 * 3600, cap_s=2 * 86400)
                other = None
                if rng.random() < 0.03:
                    # the contact comes back on another channel of the same conversation
                    other = directory.channels[centre.below(directory.n_channels)][0]
                    if other == c.ch:
                        other = None
                mi = self.messages.inbound(c, t, channel=other)
                t += centre.secs(0.05, 1.5)
                self.handling.new(c, t, "CONTACT_MESSAGE", mi)
                t = self.messages.more_inbound(c, t)
                resolved = False
            t, outcome, prev_agent = self.handle(c, t, prev_agent)
            if outcome == "open":
                return
            if outcome == "resolved":
                resolved = True
                continue
            if outcome == "left":
                if cycles > 4:
                    return
                continue
            # pending
            r = rng.random()
            if r < 0.65 and cycles <= 5:
                t += centre.expo(45 * 60, cap_s=86400)
                mi = self.messages.inbound(c, t)
                t += centre.secs(0.05, 1.5)
                self.handling.new(c, t, "CONTACT_MESSAGE", mi)
                t = self.messages.more_inbound(c, t)
                continue
            if r < 0.83:
                t += centre.secs(8 * 3600, 24 * 3600)
                self.handling.status(c, t, "RESOLVED", resolved_by="SYSTEM", resolve_trigger="AUTO_RESOLVE")
                resolved = True
                continue
            return  # stays pending

    def va_phase(self, c: Conversation, t: int) -> tuple[int, bool]:
        """A virtual agent talks with the contact, then resolves the conversation or hands it over to the
        New queue; (time, resolved)."""
        centre = self.centre
        directory = self.directory
        rng = centre.rng
        if self.edge.need_ghost_va or rng.random() < 0.04:
            self.edge.need_ghost_va = False
            va = directory.ghost_va
        else:
            va = centre.pick(directory.va_ids)
        n = 1 + (rng.random() < 0.6) + (rng.random() < 0.3)
        for k in range(n):
            t += centre.secs(0.8, 4)
            self.messages.message(c, t, "OUTBOUND", "VIRTUAL_AGENT", centre.pick(VIRTUAL_AGENT_TEXTS),
                                  va=va, sut="BOT" if rng.random() < 0.3 else None)
            if k == 0 and rng.random() < 0.3:
                t = self.handling.topic(c, t + centre.secs(0.1, 2), va=va)
            if k < n - 1 or rng.random() < 0.5:
                t += centre.secs(8, 120)
                self.messages.inbound(c, t)
        if rng.random() < 0.2:
            t = self.handling.tag(c, t + centre.secs(0.1, 2), va=va)
        t += centre.secs(1, 5)
        if rng.random() < 0.4:
            self.handling.status(c, t, "RESOLVED", va=va, resolved_by="VIRTUAL_AGENT",
                                 resolve_trigger="VIRTUAL_AGENT")
            return t, True
        if self.edge.need_error_handover or rng.random() < 0.2:
            self.edge.need_error_handover = False
            reason = "ERROR"
        else:
            reason = centre.pick(HANDOVER_REASONS)
        kw = {"handover_reason": reason}
        if rng.random() < 0.97:
            kw["virtual_agent_id"] = va
        self.handling.new(c, t, "VA_HANDED_OVER_CONVERSATION",
                          c.inbound[-1] if rng.random() < 0.7 else None, **kw)
        return t, False

    def handle(self, c: Conversation, t: int, prefer: int | None):
        """Agents pick up a conversation that entered the New queue at t.

        Returns (time, outcome, agent) with outcome open/resolved/pending/left.
        """
        centre = self.centre
        directory = self.directory
        rng = centre.rng
        r = rng.random()
        if r < 0.035:
            return t, "open", prefer  # nobody picks it up
        if r < 0.085:
            t += centre.expo(3 * 3600, cap_s=86400)
            if rng.random() < 0.5:
                self.handling.status(c, t, "RESOLVED", resolved_by="BULK", resolve_trigger="AUTOMATION",
                                     **({"resolve_reason": "Bulk resolved"} if rng.random() < 0.5 else {}))
            else:
                self.handling.status(c, t, "RESOLVED", resolved_by="SYSTEM", resolve_trigger="AUTO_RESOLVE")
            return t, "resolved", prefer
        picker = None
        if rng.random() < 0.12:
            # cherry-picking: somebody opens it and leaves without doing anything
            pick = self.presence.pick_agent(t + centre.expo(240, cap_s=7200))
            if pick is not None:
                picker, tp = pick
                t_rel = tp + centre.secs(4, 90)
                self.handling.lock(c, tp, t_rel, picker, directory.team_of(picker))
                t = t_rel
        pick = self.presence.pick_agent(t + centre.expo(360, cap_s=4 * 3600),
                                        prefer if rng.random() < 0.7 else None, exclude=picker)
        if pick is None:
            return t, "open", prefer
        a, tl = pick
        team = directory.team_of(a)
        if tl - t > 4 * MIN and rng.random() < 0.3:
            self.messages.inbound(c, t + (tl - t) // 2)  # "hello??" while waiting
        t = tl
        if rng.random() < 0.1:
            # no-reply: read it and resolve it
            t += centre.secs(8, 90)
            if rng.random() < 0.2:
                t = self.handling.topic(c, t, a, team) + centre.secs(1, 5)
            self.handling.resolve_by_agent(c, t, a, team)
            self.handling.lock(c, tl, t + centre.secs(1, 15), a, team)
            if rng.random() < 0.3:
                self.handling.csat(c, t, a, team)
            return t + 16 * SEC, "resolved", a
        rounds = 1 + (rng.random() < 0.75) + (rng.random() < 0.5) + (rng.random() < 0.3) + (rng.random() < 0.15)
        for k in range(rounds):
            t += centre.secs(20, 240)
            self.messages.reply(c, t, a, team)
            if rng.random() < 0.25:
                t += centre.secs(3, 30)
                self.messages.reply(c, t, a, team)
            if k == 0 and rng.random() < (0.45 if not c.topics else 0.1):
                t = self.handling.topic(c, t + centre.secs(2, 30), a, team)
            if rng.random() < 0.2:
                t = self.handling.tag(c, t + centre.secs(2, 30), a, team)
            if k < rounds - 1:
                t += centre.secs(30, 300)
                self.messages.inbound(c, t)
                t = self.messages.more_inbound(c, t)
        t += centre.secs(2, 40)
        r = rng.random()
        if ((self.edge.need_unreleased == 2 and self.handling.locks >= 40)
                or (self.edge.need_unreleased == 1 and rng.random() < 0.01)):
            self.edge.need_unreleased -= 1
            t_rel = None  # lock never released (session not counted)
        else:
            t_rel = t + centre.secs(1, 20)
        if r < 0.52:
            self.handling.resolve_by_agent(c, t, a, team)
            self.handling.lock(c, tl, t_rel, a, team)
            if rng.random() < 0.55:
                self.handling.csat(c, t, a, team)
            return t + 20 * SEC, "resolved", a
        if r < 0.9:
            self.handling.status(c, t, "PENDING", agent=a, team=team)
            self.handling.lock(c, tl, t_rel, a, team)
            return t + 20 * SEC, "pending", a
        if rng.random() < 0.3:
            self.handling.new(c, t, "AGENT_MOVED", None, agent=a, team=team)
        self.handling.lock(c, tl, t_rel, a, team)
        return t + 20 * SEC, "left", None
