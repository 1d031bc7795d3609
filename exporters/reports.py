"""Which store each export scans, and how its rows are built, sorted and headed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from exporters import conversations, messages, responses
from exporters.headers import HEADERS


@dataclass(frozen=True)
class Report:
    export_type: str
    source: str  # the table whose partitions are scanned: "conversations"
    rows: Callable  # (ctx, key, state) -> iterable of (sort_key, row)

    @property
    def header(self) -> list[str]:
        return HEADERS[self.export_type]


REPORTS: dict[str, Report] = {
    r.export_type: r
    for r in (
        Report("conversations_resolved", "conversations", conversations.resolved_rows),
        Report("conversations_open", "conversations", conversations.open_rows),
        Report("messages", "conversations", messages.rows),
        Report("agent_responses", "conversations", responses.rows),
    )
}
