"""The replica's contact identifiers in a RocksDB store: the latest per contact, checkpointed for the scan processes."""
from rocksdict import Options

from convoflow.streams.contact_copy import NONE, ContactCopy


def test_contact_copy_keeps_the_latest_identifiers_and_checkpoints_them(tmp_path):
    copy = ContactCopy.create(str(tmp_path / "copy"), Options(raw_mode=True))
    copy.apply({b"c1": ("p1", None), b"c2": ("p2", "s2")})
    assert copy.get("c2") == ("p2", "s2") and copy.estimated_count() >= 1
    copy.apply({b"c1": ("p1b", "s1"), b"c2": NONE})
    assert copy.get("c1") == ("p1b", "s1") and copy.get("c2") == NONE and copy.get(None) == NONE
    copy.checkpoint(str(tmp_path / "cp"))
    copy.apply({b"c3": ("p3", None)})  # after the checkpoint: not in it
    seen = ContactCopy.open_checkpoint(str(tmp_path / "cp"))
    assert (seen.get("c1"), seen.get("c2"), seen.get("c3")) == (("p1b", "s1"), NONE, NONE)
    seen.close()
    copy.close()
    again = ContactCopy.create(str(tmp_path / "copy"), Options(raw_mode=True))
    assert again.get("c1") == NONE, "a new copy starts empty: it is rebuilt from the changelog"
    again.close()
