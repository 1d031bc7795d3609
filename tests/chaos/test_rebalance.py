"""Rebalances.

Two workers share the partitions; during ingestion one is stopped and later
started again (the full version does it several times, alternating workers,
once with SIGKILL instead of a clean stop). The partitions move to the
survivor and back; every report is exact at the end, and both workers own
partitions again.
"""
import time

import pytest

from tests.chaos.conftest import SIZES, Publisher, RecoveryProbe, simulated

TZ, FIRST, LAST, AS_OF = "America/New_York", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

PLAN = {
    # (fraction published when the worker stops, fraction when it starts again, which worker, how it stops)
    "reduced": dict(conversations=220, chunk=300, publish_seconds=4.0, cycles=[(0.25, 0.6, 1, "stop")]),
    "full": dict(conversations=4000, chunk=1500, publish_seconds=60.0,
                 cycles=[(0.1, 0.25, 1, "stop"), (0.35, 0.5, 0, "stop"), (0.6, 0.75, 1, "kill"), (0.8, 0.9, 0, "stop")]),
}


def wait_until(predicate, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)
    return round(time.monotonic() - t0, 2)


@pytest.mark.parametrize("size", SIZES)
def test_reports_exact_while_a_worker_leaves_and_comes_back(chaos_deployment, figures, rng, size):
    plan = PLAN[size]
    events, noisy = simulated(plan["conversations"], seed=rng.randrange(1, 10**6))
    d = chaos_deployment(partitions=4)
    workers = [d.start_worker(), d.start_worker()]
    every = set(range(d.partitions))
    figures["initial_assignment_s"] = wait_until(
        lambda: all(w.assigned() for w in workers) and set(workers[0].assigned()) | set(workers[1].assigned()) == every,
        60, "both workers owning partitions")
    figures["events"] = len(events)
    figures["records_published"] = len(noisy)
    chunks = -(-len(noisy) // plan["chunk"])
    publisher = Publisher(d.settings, noisy, plan["chunk"], pause=plan["publish_seconds"] / chunks)
    t0 = time.monotonic()
    publisher.start()
    for stop_at, start_at, index, how in plan["cycles"]:
        leaving, staying = workers[index], workers[1 - index]
        while publisher.fraction < stop_at and not publisher.finished.is_set():
            time.sleep(0.05)
        cycle = {"worker": index, "how": how, "stopped_at": round(publisher.fraction, 3), "lag": d.lag(),
                 "had": leaving.assigned()}
        if how == "kill":
            leaving.kill()
        else:
            leaving.stop()
        stopped = time.monotonic()
        probe = RecoveryProbe(d, d.input_end_offsets(), stopped, "takeover")
        probe.start()
        cycle["takeover_s"] = wait_until(lambda: set(staying.assigned()) == every, 120, "the survivor taking every partition")
        while publisher.fraction < start_at and not publisher.finished.is_set():
            time.sleep(0.05)
        cycle["restarted_at"] = round(publisher.fraction, 3)
        cycle["health_s"] = round(leaving.start(), 2)
        cycle["rejoin_s"] = wait_until(lambda: leaving.assigned() and staying.assigned(), 120, "both workers owning partitions")
        cycle["down_s"] = round(time.monotonic() - stopped, 1)
        cycle["caught_up_s"] = probe.wait(120)  # what was published before the stop, processed (by either worker)
        figures.add("cycles", cycle)
        assert staying.alive()
    publisher.join_checked()
    figures["publish_seconds"] = round(publisher.seconds, 1)
    figures["final_catch_up_s"] = round(d.wait_caught_up(timeout=300), 1)
    figures["ingest_seconds"] = round(time.monotonic() - t0, 1)
    figures["final_assignment"] = [w.assigned() for w in workers]
    mismatches = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=figures)
    assert all(w.alive() for w in workers), "a worker died"
    assert all(w.assigned() for w in workers), f"a worker owns nothing at the end: {[w.assigned() for w in workers]}"
    assert not mismatches, "\n\n".join(mismatches)
