"""Crash consistency and lost local state (issue 6, items 1 and 2).

A simulated contact centre is published in chunks from a background thread
while the worker is SIGKILLed at random moments and restarted each time (in
the lost-state test its data dir is deleted before some restarts). The final
reports, all twelve, must be byte-identical to the reference model's.
"""
import time

import pytest

from tests.chaos.conftest import SIZES, Publisher, RecoveryProbe, simulated

TZ, FIRST, LAST, AS_OF = "Europe/Amsterdam", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

PLAN = {
    # conversations (about 23 events each), kills, seconds between a (re)start and the next kill, chunk size
    "reduced": dict(conversations=650, min_events=14_000, kills=2, delay=(3.0, 7.0), chunk=500),
    "full": dict(conversations=9_800, min_events=200_000, kills=6, delay=(4.0, 16.0), chunk=2_000),
}


def crash_run(make, figures, rng, size: str, wipe: bool):
    plan = PLAN[size]
    events, noisy = simulated(plan["conversations"], seed=rng.randrange(1, 10**6))
    assert len(events) >= plan["min_events"]
    d = make()
    worker = d.start_worker()
    kills = plan["kills"]
    lo, hi = plan["delay"]
    # Publishing lasts about as long as the kills, so that every kill falls while records still arrive.
    chunks = -(-len(noisy) // plan["chunk"])
    publisher = Publisher(d.settings, noisy, plan["chunk"], pause=kills * (lo + hi) / 2 / chunks)
    # Which restarts find an empty data dir: at least one, and (with several kills) not all.
    wipes = set()
    if wipe:
        wipes = {k for k in range(kills) if k % 2 == 0} if kills > 2 else {rng.randrange(kills)}
    figures["events"] = len(events)
    figures["records_published"] = len(noisy)
    t0 = time.monotonic()
    publisher.start()
    probe = None
    for k in range(kills):
        time.sleep(rng.uniform(lo, hi))
        kill = {"at_s": round(time.monotonic() - t0, 1), "published": round(publisher.fraction, 3),
                "assigned_before": worker.assigned()}
        worker.kill()
        if probe is not None:
            recovered = probe.stop()
            figures.add("recover_s", recovered if recovered is not None else "killed again before it had caught up")
        kill["lag_at_kill"] = d.lag()
        if k in wipes:
            worker.wipe()
            kill["data_dir_deleted"] = True
        target = d.input_end_offsets()
        kill["health_s"] = round(worker.start(), 2)
        probe = RecoveryProbe(d, target, worker.started_at, f"restart-{k + 1}")
        probe.start()
        figures.add("kills", kill)
    publisher.join_checked()
    figures["publish_seconds"] = round(publisher.seconds, 1)
    figures["publish_retries"] = publisher.retries
    figures.add("recover_s", probe.wait(300))
    figures["kill_count"] = worker.kills
    figures["restart_count"] = worker.starts - 1
    figures["data_dir_deletions"] = len(wipes)
    figures["final_catch_up_s"] = round(d.wait_caught_up(timeout=600), 1)
    figures["ingest_seconds"] = round(time.monotonic() - t0, 1)
    assert worker.kills == kills and worker.starts == kills + 1
    mismatches = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=figures)
    assert worker.alive(), "the worker died"
    assert not mismatches, f"{len(mismatches)} of 12 reports differ after {kills} SIGKILLs:\n" + "\n\n".join(mismatches)


@pytest.mark.parametrize("size", SIZES)
def test_reports_exact_through_sigkills(chaos_deployment, figures, rng, size):
    crash_run(chaos_deployment, figures, rng, size, wipe=False)


@pytest.mark.parametrize("size", SIZES)
def test_reports_exact_when_local_state_is_lost(chaos_deployment, figures, rng, size):
    crash_run(chaos_deployment, figures, rng, size, wipe=True)
