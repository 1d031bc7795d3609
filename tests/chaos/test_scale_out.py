"""Workers joining and leaving, with standby replicas and stale-partition cleanup.

One worker starts alone; while it ingests, a second joins (every report is
requested during the hand-over and must be exact for what was published so
far), then a third; later one of them leaves (the full version also SIGKILLs
one and brings it back on its old disk). Each worker keeps only the table
partitions it holds, as active or standby: copies it no longer holds leave its
disk (``CONVOFLOW_STALE_PARTITION_HOURS=0`` here). Every report is exact at
the end.
"""
import re
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import SIZES, Publisher, simulated
from tests.chaos.test_rebalance import wait_until

TZ, FIRST, LAST, AS_OF = "America/New_York", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"
ENV = {"CONVOFLOW_STANDBY_REPLICAS": "1", "CONVOFLOW_STALE_PARTITION_HOURS": "0"}

PLAN = {
    "reduced": dict(conversations=220, chunk=300, publish_seconds=4.0, kill=False),
    "full": dict(conversations=3000, chunk=1000, publish_seconds=60.0, kill=True),
}


def copies(worker) -> set[int]:
    """The partitions of the conversations table that the worker has on its disk."""
    found = set()
    for path in Path(worker.data_dir).rglob("conversations-*.db"):
        match = re.fullmatch(r"conversations-(\d+)\.db", path.name)
        if match:
            found.add(int(match.group(1)))
    return found


def held(worker) -> set[int]:
    h = worker.health() or {}
    return set(h.get("assigned", [])) | set(h.get("standby", []))


def wait_for(publisher, fraction: float) -> None:
    while publisher.fraction < fraction and not publisher.finished.is_set():
        time.sleep(0.05)


@pytest.mark.parametrize("size", SIZES)
def test_workers_join_and_leave_with_standbys_and_drop_what_they_no_longer_hold(chaos_deployment, figures, rng, size):
    plan = PLAN[size]
    events, noisy = simulated(plan["conversations"], seed=rng.randrange(1, 10**6))
    d = chaos_deployment(partitions=4, worker_env=ENV)
    every = set(range(d.partitions))
    first = d.start_worker()
    figures["alone_s"] = wait_until(lambda: set(first.assigned()) == every, 60, "the first worker owning everything")
    chunks = -(-len(noisy) // plan["chunk"])
    publisher = Publisher(d.settings, noisy, plan["chunk"], pause=plan["publish_seconds"] / chunks)
    publisher.start()

    # A second worker joins while the stream is held: every report, requested during the hand-over, is exact.
    wait_for(publisher, 0.4)
    acked = publisher.hold()
    second = d.start_worker()
    mismatches = d.export_all(noisy[:acked], TZ, FIRST, LAST, AS_OF, figures=figures, tag="_during_join")
    assert not mismatches, "\n\n".join(mismatches)
    figures["second_join_s"] = wait_until(lambda: first.assigned() and second.assigned(), 120,
                                          "the joining worker taking over partitions")
    figures["after_second_join"] = [[w.assigned(), sorted(held(w))] for w in (first, second)]
    assert set(first.assigned()) | set(second.assigned()) == every
    assert held(first) == every and held(second) == every, "with two workers and a standby each, both hold all"
    publisher.release()

    # A third joins: each worker now holds two or three partitions, and drops the other copies.
    wait_for(publisher, 0.6)
    third = d.start_worker()
    workers = [first, second, third]
    figures["third_join_s"] = wait_until(lambda: all(w.assigned() for w in workers), 120, "all three owning partitions")
    figures["copies_dropped_s"] = wait_until(
        lambda: all(copies(w) <= held(w) for w in workers) and len(copies(first)) < len(every), 60,
        "the workers' disks following their assignment")
    figures["held_by_three"] = [sorted(held(w)) for w in workers]
    assert all(len(held(w)) < len(every) for w in workers), figures["held_by_three"]

    if plan["kill"]:
        wait_for(publisher, 0.75)
        third.kill()
        wait_until(lambda: set(first.assigned()) | set(second.assigned()) == every, 120, "the survivors taking over")
        figures["restart_health_s"] = round(third.start(), 2)
        wait_until(lambda: all(w.assigned() for w in workers), 120, "the restarted worker owning partitions again")

    # The second leaves: its partitions go to the workers that hold standbys of them.
    wait_for(publisher, 0.85)
    second.stop()
    staying = [first, third]
    figures["leave_takeover_s"] = wait_until(
        lambda: set(first.assigned()) | set(third.assigned()) == every, 120, "the others taking every partition")
    publisher.join_checked()
    figures["final_catch_up_s"] = round(d.wait_caught_up(timeout=300), 1)
    wait_until(lambda: all(copies(w) <= held(w) for w in staying), 60, "the disks following the assignment")
    figures["final_held"] = [sorted(held(w)) for w in staying]
    mismatches = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=figures)
    assert all(w.alive() for w in staying), "a worker died"
    assert not mismatches, "\n\n".join(mismatches)
