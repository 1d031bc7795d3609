"""Messages of a conversation: the contact's, agents' replies, and what happens to them later.

Every message carries the conversation's channel (or another one, for a
contact who comes back elsewhere), its contact and, mostly, the contact's
identifiers at that moment. Some are edited or deleted afterwards; one is
delivered twice, one deleted twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import EdgeCases
from convoflow.tools.simulate.vocabulary import EDITED_TEXTS, INBOUND_TEXTS, REPLY_TEXTS

if TYPE_CHECKING:
    from convoflow.tools.simulate.conversations import Conversation

SOCIAL_MEDIA = ("twitter", "facebook", "instagram")  # inbound messages there may link to a post


class Messages:
    def __init__(self, centre: Centre, directory: Directory, edge: EdgeCases) -> None:
        self.centre = centre
        self.directory = directory
        self.edge = edge
        self.count = 0  # message ids are numbered in the order they are made

    def message(self, c: Conversation, t: int, direction: str, origin: str, content, *,
                mtype: str = "TEXT", agent: int | None = None, team: str | None = None,
                va: str | None = None, omt: str | None = None, sut: str | None = None,
                idents: bool | None = None, channel: str | None = None) -> str:
        """A message.created in ``c`` (and maybe its edits and deletion later); its message id."""
        centre = self.centre
        rng = centre.rng
        self.count += 1
        mid = f"m-{self.count:07d}"
        f = {"message_id": mid, "conversation_id": c.id, "channel_id": channel or c.ch,
             "contact_profile_id": c.ct.id, "direction": direction, "message_type": mtype,
             "origin": origin}
        if omt is not None:
            f["outbound_message_type"] = omt
        if agent is not None or va is not None:
            f.update(self.directory.who(agent, team, va))
        if idents is None:
            idents = rng.random() < (0.92 if direction == "INBOUND" else 0.3)
        if idents:
            p, s = c.ct.ident(t)
            f["contact_primary_identifier"] = p
            if s is not None:
                f["contact_secondary_identifier"] = s
        if sut is not None:
            f["system_user_type"] = sut
        if content is not None:
            f["content"] = content
        if direction == "INBOUND" and c.medium in SOCIAL_MEDIA and rng.random() < 0.3:
            f["post_url"] = f"https://{c.medium}.example/p/{c.id}/{mid}"
        r = rng.random()
        if r < 0.01:
            f["language"] = None  # explicit null: same as absent
        elif r < 0.85 and c.lang is not None:
            f["language"] = c.lang
        if rng.random() < 0.005:
            f["x_producer"] = "sim-1.0"  # unknown extra field: ignored
        centre.emit(t, "message.created", f)
        c.msgs.append(mid)
        if direction == "INBOUND":
            c.inbound.append(mid)
        self.edit_later(c, t, mid, content, by_agent=agent is not None)
        self.delete_later(c, t, mid, inbound=direction == "INBOUND")
        if self.edge.need_dup_created and direction == "INBOUND" and len(c.msgs) > 2:
            # the same message delivered again by the platform, as a new event: ignored
            self.edge.need_dup_created = False
            g = dict(f)
            g["content"] = "(redelivered) " + (content or "")
            centre.emit(t + centre.secs(1, 30), "message.created", g)
        return mid

    def edit_later(self, c: Conversation, t: int, mid: str, content, by_agent: bool) -> None:
        """Now and then (more often an agent's) the message is edited, sometimes twice."""
        centre, edge = self.centre, self.edge
        rng = centre.rng
        r = rng.random()
        if (by_agent and r < 0.04) or r < 0.012 or (edge.need_update and by_agent):
            edge.need_update = False
            tu = t + centre.secs(5, 300)
            u = {"message_id": mid, "conversation_id": c.id,
                 "content": centre.pick(EDITED_TEXTS)}
            if rng.random() < 0.2:
                u["system_user_type"] = "EDITED"
            centre.emit(tu, "message.updated", u)
            if rng.random() < 0.1:
                centre.emit(tu + centre.secs(5, 60), "message.updated",
                            {"message_id": mid, "conversation_id": c.id, "content": content or "…"})

    def delete_later(self, c: Conversation, t: int, mid: str, inbound: bool) -> None:
        """Rarely the message is deleted (the first one deleted is deleted twice)."""
        centre, edge = self.centre, self.edge
        r = centre.rng.random()
        if r < 0.006 or (edge.need_delete and inbound and len(c.msgs) > 3):
            edge.need_delete = False
            td = t + centre.expo(1800)
            centre.emit(td, "message.deleted", {"message_id": mid, "conversation_id": c.id})
            if edge.need_double_delete:
                edge.need_double_delete = False
                centre.emit(td + centre.secs(1, 600), "message.deleted",
                            {"message_id": mid, "conversation_id": c.id})

    def inbound(self, c: Conversation, t: int, channel: str | None = None) -> str:
        """A message from the contact: mostly text in its language, sometimes an image or other media."""
        centre = self.centre
        rng = centre.rng
        r = rng.random()
        texts = INBOUND_TEXTS[c.lang or "en"]
        content = centre.pick(texts)
        if r < 0.86:
            mtype = "TEXT"
        elif r < 0.92:
            mtype = "IMAGE"
            content = None if rng.random() < 0.6 else "photo of the damage, see attached"
        else:
            mtype = ("VIDEO", "AUDIO", "FILE", "LOCATION", "STICKER")[centre.below(5)]
            content = None
        return self.message(c, t, "INBOUND", "CONTACT", content, mtype=mtype, channel=channel)

    def more_inbound(self, c: Conversation, t: int) -> int:
        """The contact goes on typing: 0-2 more inbound messages (no new NEW)."""
        centre = self.centre
        rng = centre.rng
        for _ in range((rng.random() < 0.5) + (rng.random() < 0.2)):
            t += centre.secs(5, 120)
            self.inbound(c, t)
        return t

    def reply(self, c: Conversation, t: int, a: int, team: str) -> str:
        """Agent ``a``'s reply, for ``team``."""
        centre = self.centre
        rng = centre.rng
        texts = REPLY_TEXTS[c.lang or "en"]
        mtype = "TEXT" if rng.random() < 0.95 else ("IMAGE", "FILE")[centre.below(2)]
        return self.message(c, t, "OUTBOUND", "AGENT", centre.pick(texts),
                            mtype=mtype, agent=a, team=team, omt="REPLY",
                            sut="AGENT" if rng.random() < 0.1 else None)
