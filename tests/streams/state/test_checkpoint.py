"""A checkpoint is a consistent copy of a store: later writes are not in it, and it opens read-only."""
import pytest

from convoflow.streams.state.checkpoint import checkpoint, open_checkpoint

from ..rocksdb_files import store


def test_a_checkpoint_holds_what_the_store_had_and_opens_read_only(tmp_path):
    db = store(tmp_path / "live", {b"a": b"1", b"b": b"2"})
    checkpoint(db, str(tmp_path / "copy"))
    db[b"c"] = b"3"  # after the checkpoint: not in it
    del db[b"a"]
    copy = open_checkpoint(str(tmp_path / "copy"))
    assert dict(copy.items()) == {b"a": b"1", b"b": b"2"}
    with pytest.raises(Exception):
        copy[b"d"] = b"4"
    copy.close()
    db.close()
