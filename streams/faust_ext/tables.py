"""convoflow's table manager (Faust's ``TableManager`` class setting)."""
from __future__ import annotations

from faust.tables.manager import TableManager as FaustTableManager


class TableManager(FaustTableManager):
    """Faust's, without the second it slept before starting (to let tables be declared after
    the worker starts; every convoflow table exists before it does)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
