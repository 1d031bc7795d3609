"""The rare cases the event contract defines, each made at least once with the default sizes.

``EdgeCases`` says which one-off cases are still to be made; the part of the
simulation that meets the right moment makes one and marks it done. Other rare
cases (ghost topics and tags, explicit nulls, unknown fields, other timestamp
forms) come by chance, where the events are made.
"""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import DAY, MS

#: message id of the one ``tag.applied`` that names a message never created
GHOST_MESSAGE_ID = "m-ghost-1"
#: survey id of the one ``csat.answered`` whose survey was never sent
GHOST_SURVEY_ID = "s-ghost-1"


class EdgeCases:
    def __init__(self, virtual_agents: int) -> None:
        self.early_answers = 2  # CSAT answers stamped before their survey was sent
        self.need_dup_created = True  # a message.created delivered twice
        self.need_double_delete = True  # a message deleted twice
        self.need_ghost_tag = True  # a tag on GHOST_MESSAGE_ID
        self.need_unreleased = 2  # locks never released
        self.need_zero_presence = True  # AVAILABLE and AWAY in the same millisecond
        self.need_topic_removed = True
        self.need_tag_removed = True
        self.need_update = True  # a message edited
        self.need_delete = True  # a message deleted
        self.need_partial = True  # a partially completed CSAT survey
        self.need_ghost_va = virtual_agents > 0  # a virtual agent never upserted
        self.need_ghost_channel = True  # a conversation on a channel never upserted
        self.need_error_handover = True  # a virtual agent's handover with reason ERROR
        self.need_empty_primary = True  # a contact whose primary identifier is empty at first
        self.need_empty_secondary = True  # a contact whose secondary identifier is empty


def answer_never_sent_survey(centre: Centre) -> None:
    """A csat.answered of GHOST_SURVEY_ID, a survey no csat.sent names."""
    centre.emit(centre.t0 + centre.days * DAY * 3 // 4 + 123 * MS, "csat.answered",
                {"survey_id": GHOST_SURVEY_ID, "conversation_id": "c-000001",
                 "completed_status": "COMPLETED", "score": 2})
