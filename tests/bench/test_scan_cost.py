"""bench.scan_cost: a helper's scan of one shard of a kept work dir, timed."""
import orjson
import pytest

from bench import scan_cost
from convoflow.contract.events import parse_record, topic_of
from convoflow.streams.replica import CONTACT_COPY_DIR
from convoflow.tables import conversation
from convoflow.tools import simulate

from ..streams.rocksdb_files import store


def test_it_scans_a_kept_partition_and_counts_its_rows(tmp_path, capsys):
    events = simulate.generate(seed=5, agents=4, teams=1, conversations=40, days=3, start="2024-07-01T00:00:00Z")
    states = {}
    for raw in events:
        e = parse_record(topic_of(raw["type"]), orjson.dumps(raw))
        if "conversation_id" in e and topic_of(e["type"]) != "directory":
            conversation.apply(states.setdefault(e["conversation_id"], {}), e)
    resolved = sum(1 for s in states.values() if conversation.summary(s)["first_resolved"] is not None)
    data = tmp_path / "worker-data"
    (data / "v1" / "tables").mkdir(parents=True)
    store(data / "v1" / "tables" / "conversations-0.db",
          {cid.encode(): conversation.encode(s) for cid, s in states.items()}, head=conversation.head).close()
    store(data / CONTACT_COPY_DIR, {}).close()

    assert scan_cost.main(["--work-dir", str(tmp_path), "--runs", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and resolved > 0
    assert all(line.startswith(f"conversations_resolved partition 0: {resolved:,} rows in ") for line in lines)


def test_a_work_dir_without_the_partition_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        scan_cost.main(["--work-dir", str(tmp_path), "--partition", "3"])
    assert exit_.value.code == 2
