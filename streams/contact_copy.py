"""The replica's contact identifiers in a RocksDB store of their own, not in a dict.

In a dict they would stay in the worker's memory for good, growing with the
contacts; a store keeps them within the worker's RocksDB budget. And a store can be
checkpointed, so an export's scan processes (``convoflow.streams.scan_process``) read the
same identifiers as the worker does. The copy is rebuilt from the contacts
changelog at every start, so its writes skip the write-ahead log.
"""
from __future__ import annotations

import os
import shutil

import orjson
from rocksdict import Options, Rdict, WriteBatch

from convoflow.streams.state.checkpoint import checkpoint, open_checkpoint
from convoflow.streams.state.partition import WITHOUT_WAL, estimated_keys

NONE = (None, None)


class ContactCopy:
    """contact ID -> (primary identifier, secondary identifier)."""

    def __init__(self, db: Rdict):
        self.db = db

    @classmethod
    def create(cls, path: str, options: Options) -> "ContactCopy":
        """A new, empty copy at ``path`` (what an earlier run left there is deleted)."""
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        options.create_if_missing(True)
        db = Rdict(path, options=options)
        db.set_write_options(WITHOUT_WAL)
        return cls(db)

    @classmethod
    def open_checkpoint(cls, path: str) -> "ContactCopy":
        return cls(open_checkpoint(path))

    def apply(self, changes: dict[bytes, tuple[str | None, str | None]]) -> None:
        """Each contact's latest identifiers; (None, None) removes it."""
        batch = WriteBatch(raw_mode=True)
        for key, ids in changes.items():
            if ids == NONE:
                batch.delete(key)
            else:
                batch.put(key, orjson.dumps(ids))
        self.db.write(batch)

    def get(self, contact_id: str | None) -> tuple[str | None, str | None]:
        if contact_id is None:
            return NONE
        raw = self.db.get(contact_id.encode())
        return NONE if raw is None else tuple(orjson.loads(raw))

    def estimated_count(self) -> int:
        return estimated_keys(self.db)

    def checkpoint(self, path: str) -> None:
        """A consistent copy at ``path`` (hard links to the store's files, after a flush)."""
        checkpoint(self.db, path)

    def close(self) -> None:
        self.db.close()
