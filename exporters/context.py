"""What every report builder needs: the request's range and zone, and the shared lookups."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from zoneinfo import ZoneInfo

from convoflow.exporters import csvfile
from convoflow.exporters.request import ExportRequest
from convoflow.tables.directory import Directory

DEFAULT_URL_TEMPLATE = "https://app.convoflow.local/conversations/{conversation_id}"


@dataclass
class ReportContext:
    request: ExportRequest
    as_of_us: int
    directory: Directory = field(default_factory=Directory)
    contact_identifiers: Callable[[str | None], tuple[str | None, str | None]] = lambda c: (None, None)
    url_template: str = DEFAULT_URL_TEMPLATE

    def __post_init__(self):
        self.zone: ZoneInfo = self.request.zone
        self.start_us, self.end_us = self.request.range_us()
        self.channels = frozenset(self.request.channels) or None
        # A report names the same agents, teams and channels on row after row: each is looked up once.
        self._cells: dict[tuple, list[str]] = {}
        self.ts = csvfile.timestamp_formatter(self.zone)

    def in_range(self, t: int) -> bool:
        return self.start_us <= t < self.end_us

    def keeps_channel(self, channel_id: str | None) -> bool:
        return self.channels is None or channel_id in self.channels

    def url(self, conversation_id: str) -> str:
        return csvfile.text(self.url_template.replace("{conversation_id}", conversation_id))

    def channel_cells(self, channel_id: str | None) -> list[str]:
        """Medium, Channel (name), Channel Display Name."""
        cells = self._cells.get(("channel", channel_id))
        if cells is None:
            f = self.directory.fields("channel", channel_id)
            cells = [csvfile.text(f.get("medium")), csvfile.text(f.get("name")), csvfile.text(f.get("display_name"))]
            self._cells["channel", channel_id] = cells
        return cells

    def agent_cells(self, agent_id: str | None) -> list[str]:
        """Agent ID, Name, Reference."""
        cells = self._cells.get(("agent", agent_id))
        if cells is None:
            f = self.directory.fields("agent", agent_id)
            cells = [csvfile.text(agent_id), csvfile.text(f.get("name")), csvfile.text(f.get("reference"))]
            self._cells["agent", agent_id] = cells
        return cells

    def team_cells(self, team_id: str | None) -> list[str]:
        """Team ID, Name."""
        cells = self._cells.get(("team", team_id))
        if cells is None:
            cells = self._cells["team", team_id] = [csvfile.text(team_id), csvfile.text(self.directory.name("team", team_id))]
        return cells
