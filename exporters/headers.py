"""Header rows of the twelve exports, spelled and ordered exactly as the seed article
(Sparkcentral's "Data Exports" page, kept in tests/reference/seed/)."""

_CONVERSATION_HEAD = [
    "Conversation ID", "Medium", "Channel", "Channel Display Name", "Contact Profile ID",
    "Contact Primary Identifier", "Contact Secondary Identifier", "Created at",
    "Last Status Change Agent ID", "Last Status Change Agent Name", "Last Status Change Agent Reference",
    "Last Status Change Team ID", "Last Status Change Team Name", "Current Status", "Resolved By",
]
_CONVERSATION_TAIL = [
    "Number of Inbound Messages", "Number of Outbound Messages", "First Response Time (s)",
    "Handle Time (s)", "No-Reply Time (s)", "Cherry-Picking Time (s)", "Resolution Time (s)",
    "Topic IDs", "Topic Names", "Conversation URL", "Last Updated", "Language",
]
_RESOLVED_AGENT = ["Resolved At", "Resolved Agent ID", "Resolved Agent Name", "Resolved Agent Reference"]
_CSAT_SCORES = [f"CSAT with Score {k}" for k in range(1, 6)]

HEADERS: dict[str, list[str]] = {
    "conversations_resolved": _CONVERSATION_HEAD
    + ["Resolve Reason", "Resolve Comment", "Resolve Trigger"]
    + _RESOLVED_AGENT
    + _CONVERSATION_TAIL
    + ["CSAT Score", "CSAT Completed Status", "CSAT Follow-up Question", "CSAT Follow-up Answer"],
    "conversations_open": _CONVERSATION_HEAD + _RESOLVED_AGENT + _CONVERSATION_TAIL,
    "messages": [
        "Message ID", "Created at", "Conversation ID", "Medium", "Channel", "Channel Display Name",
        "Contact Profile ID", "Contact Primary Identifier", "Contact Secondary identifier",
        "Message Type", "Origin", "Outbound Message Type", "Direction", "Agent ID", "Agent Name",
        "Agent Reference", "Team ID", "Team Name", "Tag IDs", "Tag Names", "Content",
        "Conversation URL", "Post URL", "Last Updated", "Deleted At", "System User Type",
    ],
    "teams": [
        "Created At", "Team ID", "Team Name", "Resolves with Reply", "Resolves without Reply",
        "Average First Response Time", "Average Resolution Time", "Total Handle Time",
        "Total No-Reply Time", "Total Cherry-Picking Time", "Average Handle Time", "Contacts Helped",
    ] + _CSAT_SCORES + ["Tags Added", "Topics Added", "Replies"],
    "contacts": [
        "Contact Profile ID", "Medium", "Primary Identifier", "Secondary Identifier", "Created At",
        "Number of Conversations", "Number of Inbound Messages", "Number of Outbound Messages",
        "Last Updated",
    ],
    "topics": [
        "Topic ID", "Topic Name", "Active", "Total Conversations", "Total Current Conversations",
        "Medium", "Channel", "Channel Display Name",
    ],
    "tags": [
        "Tag ID", "Tag Name", "Active", "Total Contacts", "Total Messages", "Total Current Messages",
        "Medium", "Channel", "Channel Display Name",
    ],
    "agent_presence": [
        "User ID", "User Name", "User Email Address", "Type", "Away State", "From", "To", "Duration (s)",
    ],
    "agent_metrics": [
        "User ID", "User Name", "User Email Address", "User Reference", "Available Time (s)",
        "Away Time (s)", "Contacts Helped", "Avg. Handle Time (s)", "Handle Time (s)",
        "No-Reply Time (s)", "Cherry-Picking Time (s)", "Replies", "Resolves - With Reply",
        "Resolves - No Reply", "Tags Added", "Topics Added", "Utilization (%)",
    ] + _CSAT_SCORES,
    "agent_responses": [
        "Conversation ID", "Medium", "Sender Channel", "Sender Channel Display Name",
        "Contact Profile ID", "Started By", "Handover Reason", "From", "To",
        "Agent Response Time (s)", "Replying Agent ID", "Replying Agent Name",
        "Replying Agent Reference", "Inbound Message ID", "Outbound Message ID", "Conversation URL",
    ],
    "virtual_agents": [
        "Agent ID", "Agent Name", "Medium", "Channel", "Channel Display Name", "Total Conversations",
        "Handover to Agent", "Handover due to Error", "Resolved", "Total Conversations with Topic",
        "Total Messages Tagged", "The number of messages that have been tagged overall",
    ],
    "contact_attributes": [
        "Contact Profile ID", "Contact Primary Identifier", "Contact Secondary Identifier",
        "Attribute ID", "Attribute Name", "Attribute Value", "Attribute Type",
    ],
}
