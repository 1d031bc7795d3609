"""The twelve exports a request on ``export-requests`` may ask for, by ``export_type``.

Part of the contract: clients name them, the schedules (``tables/schedule.py``) check them, the
reports (``exporters/``) implement one each.
"""
EXPORT_TYPES = (
    "conversations_resolved", "conversations_open", "messages", "teams", "contacts", "topics",
    "tags", "agent_presence", "agent_metrics", "agent_responses", "virtual_agents",
    "contact_attributes",
)
