"""What happens to a conversation besides its messages: status changes, lock sessions, topics and
tags, CSAT surveys.

A status change names who made it (an agent for a team, or a virtual agent);
a lock session is an agent's acquire and release (a few are never released);
topics and tags are applied, sometimes removed and applied again; a survey
is sent after a resolution and answered completely, partially, late, early
(before it was sent, by clock skew) or never.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import GHOST_MESSAGE_ID, EdgeCases
from convoflow.tools.simulate.vocabulary import (
    FOLLOW_UP_ANSWERS, FOLLOW_UP_QUESTIONS, RESOLVE_COMMENTS, RESOLVE_REASONS, SCORE_WEIGHTS, SCORES,
)

if TYPE_CHECKING:
    from convoflow.tools.simulate.conversations import Conversation


class Handling:
    def __init__(self, centre: Centre, directory: Directory, edge: EdgeCases) -> None:
        self.centre = centre
        self.directory = directory
        self.edge = edge
        self.locks = 0  # lock and survey ids are numbered in the order they are made
        self.surveys = 0

    def status(self, c: Conversation, t: int, status: str, *, agent: int | None = None,
               team: str | None = None, va: str | None = None, **kw) -> None:
        """A conversation.status_changed to ``status``, by agent ``agent`` for ``team`` or by ``va``."""
        f = {"conversation_id": c.id, "status": status}
        f.update(self.directory.who(agent, team, va))
        f.update(kw)
        self.centre.emit(t, "conversation.status_changed", f)

    def new(self, c: Conversation, t: int, started_by: str, inbound_id: str | None, **kw) -> None:
        """The conversation enters the New queue (``started_by`` says why)."""
        f = {"started_by": started_by}
        if inbound_id is not None:
            f["inbound_message_id"] = inbound_id
        f.update(kw)
        self.status(c, t, "NEW", **f)

    def resolve_by_agent(self, c: Conversation, t: int, a: int, team: str) -> None:
        """Agent ``a`` resolves the conversation, mostly with a reason, sometimes with a comment."""
        centre = self.centre
        rng = centre.rng
        kw = {"resolved_by": "AGENT", "resolve_trigger": "HUMAN_AGENT"}
        if rng.random() < 0.7:
            kw["resolve_reason"] = centre.pick(RESOLVE_REASONS)
        if rng.random() < 0.3:
            kw["resolve_comment"] = centre.pick(RESOLVE_COMMENTS)
        self.status(c, t, "RESOLVED", agent=a, team=team, **kw)

    def lock(self, c: Conversation, t_acq: int, t_rel: int | None, a: int, team: str) -> None:
        """A lock session of agent ``a``; ``t_rel`` None: never released. The team is on the acquire,
        the release, or both."""
        centre = self.centre
        rng = centre.rng
        self.locks += 1
        lid = f"l-{self.locks:06d}"
        base = {"lock_id": lid, "conversation_id": c.id, "agent_id": self.directory.agent_ids[a]}
        r = rng.random()
        acq = dict(base)
        if r >= 0.05:
            acq["team_id"] = team
        centre.emit(t_acq, "lock.acquired", acq)
        if t_rel is None:
            return  # never released: not counted anywhere
        rel = dict(base)
        if r < 0.05 or rng.random() < 0.5:
            rel["team_id"] = team  # team from the release when the acquire has none
        centre.emit(t_rel, "lock.released", rel)

    def topic(self, c: Conversation, t: int, a: int | None = None, team: str | None = None,
              va: str | None = None) -> int:
        """A topic applied (sometimes removed and applied again); the time of the last of them."""
        centre = self.centre
        directory = self.directory
        rng = centre.rng
        r = rng.random()
        idx = 6 if r < 0.04 else centre.below(6)  # tp-7 is a ghost topic
        tid = directory.topic_ids[idx]
        if tid == directory.deleted_topic and t >= centre.mid:
            tid = directory.topic_ids[0]
        who = self.directory.who(a, team, va)
        centre.emit(t, "topic.applied", dict(who, conversation_id=c.id, topic_id=tid))
        c.topics.append(tid)
        if rng.random() < 0.08 or self.edge.need_topic_removed:
            self.edge.need_topic_removed = False
            t += centre.secs(5, 600)
            centre.emit(t, "topic.removed", dict(who, conversation_id=c.id, topic_id=tid))
            if rng.random() < 0.5:
                t += centre.secs(5, 600)
                centre.emit(t, "topic.applied", dict(who, conversation_id=c.id, topic_id=tid))
        return t

    def tag(self, c: Conversation, t: int, a: int | None = None, team: str | None = None,
            va: str | None = None) -> int:
        """A tag on one of the messages so far (sometimes a second one, sometimes removed); the time of
        the last of them."""
        centre = self.centre
        directory = self.directory
        rng = centre.rng
        if not c.msgs:
            return t
        pool = c.inbound if (c.inbound and rng.random() < 0.8) else c.msgs
        mid = centre.pick(pool)
        if self.edge.need_ghost_tag:
            self.edge.need_ghost_tag = False
            mid = GHOST_MESSAGE_ID
        r = rng.random()
        tid = directory.tag_ids[5] if r < 0.04 else directory.tag_ids[centre.below(5)]  # tg-6 ghost
        if tid == directory.deleted_tag and t >= centre.mid:
            tid = directory.tag_ids[0]
        who = self.directory.who(a, team, va)
        f = dict(who, conversation_id=c.id, message_id=mid, tag_id=tid)
        centre.emit(t, "tag.applied", f)
        if rng.random() < 0.3 and mid != GHOST_MESSAGE_ID:
            t += centre.secs(1, 30)
            tid2 = directory.tag_ids[centre.below(5)]
            if tid2 != tid and not (tid2 == directory.deleted_tag and t >= centre.mid):
                centre.emit(t, "tag.applied", dict(who, conversation_id=c.id, message_id=mid, tag_id=tid2))
        if rng.random() < 0.15 or self.edge.need_tag_removed:
            self.edge.need_tag_removed = False
            t += centre.secs(5, 900)
            centre.emit(t, "tag.removed", dict(f))
        return t

    def csat(self, c: Conversation, t: int, a: int | None, team: str | None) -> None:
        """A survey sent after a resolution at ``t``, and its answers, if any."""
        centre = self.centre
        rng = centre.rng
        self.surveys += 1
        sid = f"s-{self.surveys:06d}"
        ts = t + centre.secs(5, 120)
        f = {"survey_id": sid, "conversation_id": c.id}
        f.update(self.directory.who(a, team, None))
        centre.emit(ts, "csat.sent", f)
        r = rng.random()
        if r < 0.12:
            return  # never answered
        ta = ts + centre.expo(1200, cap_s=2 * 86400)
        if self.edge.early_answers > 0 and rng.random() < 0.1:
            self.edge.early_answers -= 1
            ta = ts - centre.secs(1, 5)  # answer stamped before the send (clock skew)
        base = {"survey_id": sid, "conversation_id": c.id}
        if r < 0.24 or self.edge.need_partial:
            self.edge.need_partial = False
            g = dict(base, completed_status="PARTIALLY_COMPLETED")
            if rng.random() < 0.3:
                g["follow_up_question"] = centre.pick(FOLLOW_UP_QUESTIONS)
            centre.emit(ta, "csat.answered", g)
            return
        if rng.random() < 0.08:  # first partial, then completed: the latest wins
            centre.emit(ta, "csat.answered", dict(base, completed_status="PARTIALLY_COMPLETED"))
            ta += centre.secs(10, 180)
        g = dict(base, completed_status="COMPLETED", score=rng.choices(SCORES, SCORE_WEIGHTS)[0])
        if rng.random() < 0.4:
            g["follow_up_question"] = centre.pick(FOLLOW_UP_QUESTIONS)
            g["follow_up_answer"] = centre.pick(FOLLOW_UP_ANSWERS)
        centre.emit(ta, "csat.answered", g)
