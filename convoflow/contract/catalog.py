"""Every topic a deployment uses, declared once: its name, key, partitions, cleanup policy and who
writes and reads it.

The event contract (``convoflow.contract.events``), the settings (``Settings.all_topics``), topic
administration (``convoflow.contract.topics``: what is created at start and checked when it
exists) and docs/architecture.md's topic table all follow this list. Names are without the
deployment's prefix (``--topic-prefix``); ``Topic.full_name`` gives the name in Kafka (a table's
changelog is ``<prefix>convoflow-<table>-changelog``).
"""
from __future__ import annotations

from dataclasses import dataclass

INPUT, INTERNAL, CONTROL, CHANGELOG, FAUST = "input", "internal", "control", "changelog", "faust"


@dataclass(frozen=True)
class Topic:
    name: str  # without the prefix; a changelog's is its table's name
    kind: str  # INPUT (the platform's events), INTERNAL (re-keyed between agents), CONTROL, CHANGELOG
    key: str  # what the record key is
    writer: str
    reader: str
    compacted: bool = False  # cleanup.policy=compact (changelogs: the latest value per key is the table)
    replicated: bool = False  # a changelog every worker also reads whole into a local copy
    # None: the deployment's partition count (CONVOFLOW_PARTITIONS), so that all topics are co-partitioned
    partitions: int | None = None

    def full_name(self, prefix: str) -> str:
        """The topic's name in Kafka, for a deployment's topic prefix."""
        if self.kind == CHANGELOG:
            return f"{prefix}convoflow-{self.name}-changelog"
        if self.kind == FAUST:
            return f"{prefix}convoflow-{self.name}"
        return prefix + self.name


_CONVERSATION = ("conversation_id", "platform", "`conversations` agent")

CATALOG: tuple[Topic, ...] = (
    # the platform's events (docs/events.md)
    Topic("messages", INPUT, *_CONVERSATION),
    Topic("status-changes", INPUT, *_CONVERSATION),
    Topic("locks", INPUT, *_CONVERSATION),
    Topic("presence", INPUT, "agent_id", "platform", "`presence` agent"),
    Topic("csat", INPUT, *_CONVERSATION),
    Topic("annotations", INPUT, *_CONVERSATION),
    Topic("contact-attributes", INPUT, "contact_profile_id", "platform", "`contacts` agent"),
    Topic("directory", INPUT, "<kind>:<id>", "platform", "`directory` agent"),
    # between agents
    Topic("contact-updates", INTERNAL, "contact_profile_id", "`conversations` agent", "`contacts` agent"),
    Topic("people-updates", INTERNAL, "agent:<id> / team:<id>", "`conversations` agent", "`people` agent"),
    Topic("export-shards", INTERNAL, "partition number", "coordinator", "shard (`export-shards` agent) of that partition"),
    Topic("export-parts", INTERNAL, "token of one fan-out", "shards", "every worker's inbox (plain consumer)"),
    # requests, results, rejected input
    Topic("export-requests", CONTROL, "request_id", "clients", "coordinator (`export-requests` agent)"),
    Topic("export-results", CONTROL, "request_id", "coordinator", "clients"),
    Topic("dead-letters", CONTROL, "original key", "every agent", "operators"),
    # table changelogs
    Topic("conversations", CHANGELOG, "conversation_id", "`conversations` agent", "restore", compacted=True),
    Topic("presence", CHANGELOG, "<agent_id>|<UTC day>", "`presence` agent", "restore", compacted=True),
    Topic("directory", CHANGELOG, "<kind>:<id>", "`directory` agent", "restore; every worker's copy",
          compacted=True, replicated=True),
    Topic("contacts", CHANGELOG, "contact_profile_id", "`contacts` agent", "restore; every worker's copy",
          compacted=True, replicated=True),
    Topic("owner_conversations", CHANGELOG, "<owner>|<conversation_id>; #<owner>|<UTC day>", "`people` agent",
          "restore", compacted=True),
    Topic("owner_days", CHANGELOG, "<owner>|<UTC day>|r<n>", "`people` agent", "restore", compacted=True),
    Topic("export_log", CHANGELOG, "request_id", "coordinator", "restore", compacted=True),
    # Faust's own: the group's assignor elects its leader here
    Topic("__assignor-__leader", FAUST, "-", "Faust", "Faust", partitions=1),
)


def names(kind: str) -> tuple[str, ...]:
    """The names of the topics of one kind (for CHANGELOG: the tables), in declaration order."""
    return tuple(t.name for t in CATALOG if t.kind == kind)
