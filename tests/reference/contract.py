"""The event contract's required fields per type (events.md, the envelope aside), written out
from the document and not from convoflow's own tables, so that tests can check those tables."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "message.created": ("message_id", "conversation_id", "channel_id", "contact_profile_id", "direction", "message_type"),
    "message.updated": ("message_id", "conversation_id"),
    "message.deleted": ("message_id", "conversation_id"),
    "conversation.status_changed": ("conversation_id", "status"),
    "lock.acquired": ("lock_id", "conversation_id", "agent_id"),
    "lock.released": ("lock_id", "conversation_id", "agent_id"),
    "presence.changed": ("agent_id", "state"),
    "csat.sent": ("survey_id", "conversation_id"),
    "csat.answered": ("survey_id", "conversation_id", "completed_status"),
    "topic.applied": ("conversation_id", "topic_id"),
    "topic.removed": ("conversation_id", "topic_id"),
    "tag.applied": ("conversation_id", "message_id", "tag_id"),
    "tag.removed": ("conversation_id", "message_id", "tag_id"),
    "contact.attribute_set": ("contact_profile_id", "attribute_id", "attribute_name", "attribute_type", "value"),
    "contact.attribute_cleared": ("contact_profile_id", "attribute_id"),
    "channel.upserted": ("channel_id", "medium"),
    "agent.upserted": ("agent_id",),
    "team.upserted": ("team_id",),
    "topic.upserted": ("topic_id",),
    "topic.deleted": ("topic_id",),
    "tag.upserted": ("tag_id",),
    "tag.deleted": ("tag_id",),
    "virtual_agent.upserted": ("virtual_agent_id",),
}
