"""Crash consistency and lost local state.

A simulated contact centre is published in chunks from a background thread
while the worker is SIGKILLed at random moments while it processes, and
restarted each time (in the lost-state test its data dir is deleted before
some restarts). The final reports, all twelve, must be byte-identical to the
reference model's.

The reduced versions of both tests share one run (two kills; the data dir is
deleted before the first restart), to keep `make test` short; the full
versions are separate runs (full lost-state: the data dir is deleted before
every other restart, with up to 200,000 events of history in the changelogs).

Agent and team totals are the kind of state a kill could leave out of step (totals
in one table, the partials they sum in another): a record holds its totals beside
its own conversations' partials, and this test checks them exact after every kill.
"""
import random
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import (BENIGN_GROUP, SIZES, ChaosDeployment, Publisher, RecoveryProbe, problems_in,
                                  rng_for, simulated)

TZ, FIRST, LAST, AS_OF = "Europe/Amsterdam", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

PLAN = {
    # conversations (about 23 events each), kills, seconds from "processing again" to the next kill, chunk size
    "reduced": dict(conversations=680, min_events=13_000, kills=2, delay=(1.0, 3.0), chunk=500),
    "full": dict(conversations=10_000, min_events=200_000, kills=6, delay=(1.0, 9.0), chunk=2_000),
}

class CrashRun:
    def __init__(self, root: Path, rng: random.Random, size: str, wipes: str):
        self.root, self.rng, self.size, self.wipes_mode = root, rng, size, wipes
        self.figures: dict = {"seed": getattr(rng, "seed_value", None)}
        self.mismatches: dict[str, str] = {}
        self.deployment: ChaosDeployment | None = None

    def add(self, key, value):
        self.figures[key] = self.figures.get(key, []) + [value]

    def run(self) -> "CrashRun":
        plan, rng, f = PLAN[self.size], self.rng, self.figures
        events, noisy = simulated(plan["conversations"], seed=rng.randrange(1, 10**6))
        assert len(events) >= plan["min_events"]
        d = self.deployment = ChaosDeployment(self.root)
        worker = self.worker = d.start_worker()
        kills = plan["kills"]
        lo, hi = plan["delay"]
        # Publishing lasts about as long as the kills (a restart takes ~9 s: the 6 s session timeout of the killed
        # member, the rebalance, table recovery), so that the kills fall while records still arrive.
        chunks = -(-len(noisy) // plan["chunk"])
        publisher = Publisher(d.settings, noisy, plan["chunk"], pause=(kills * (lo + hi) / 2 + (kills - 1) * 9) / chunks)
        # Which restarts find an empty data dir: "some" = every other one, "first" = the first one (the state is
        # rebuilt from changelogs that are still short, then the worker is killed again with intact local state).
        wipes = {"none": set(), "some": {k for k in range(kills) if k % 2 == 0}, "first": {0}}[self.wipes_mode]
        f["events"] = len(events)
        f["records_published"] = len(noisy)
        t0 = time.monotonic()
        publisher.start()
        probe = None
        base = 0
        for k in range(kills):
            # Kill at a random moment while the worker processes: once it commits offsets again after its (re)start.
            resumed = wait_processing(d, base, worker.started_at)
            if k:
                self.add("processing_again_s", resumed)
            time.sleep(rng.uniform(lo, hi))
            kill = {"at_s": round(time.monotonic() - t0, 1), "published": round(publisher.fraction, 3)}
            worker.kill()
            if probe is not None:
                recovered = probe.stop()
                self.add("recover_s", recovered if recovered is not None else "killed again before it had caught up")
            kill["lag_at_kill"] = d.lag()
            base = sum(d.committed().values())
            if k in wipes:
                worker.wipe()
                kill["data_dir_deleted"] = True
            target = d.input_end_offsets()
            kill["health_s"] = round(worker.start(), 2)
            probe = RecoveryProbe(d, target, worker.started_at, f"restart-{k + 1}")
            probe.start()
            self.add("kills", kill)
        self.add("processing_again_s", wait_processing(d, base, worker.started_at))
        publisher.join_checked()
        f["publish_seconds"] = round(publisher.seconds, 1)
        f["publish_retries"] = publisher.retries
        self.add("recover_s", probe.wait(1200))
        f["kill_count"] = worker.kills
        f["restart_count"] = worker.starts - 1
        f["data_dir_deletions"] = len(wipes)
        f["final_catch_up_s"] = round(d.wait_caught_up(timeout=1200), 1)
        f["ingest_seconds"] = round(time.monotonic() - t0, 1)
        assert worker.kills == kills and worker.starts == kills + 1
        for line in d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=f):
            self.mismatches[line.split(":", 1)[0]] = line
        f["alive"] = worker.alive()
        return self

    def stop(self) -> list[str]:
        """Stop the worker; the errors its log shows."""
        if self.deployment is None:
            return []
        self.deployment.stop()
        self.deployment.delete_topics()
        return problems_in(self.deployment.logs(), BENIGN_GROUP)

    def check(self, figures, what: str) -> None:
        for k, v in self.figures.items():
            figures[k] = v
        assert self.figures["alive"], "the worker died"
        assert not self.mismatches, (f"{len(self.mismatches)} of 12 reports differ {what}:\n"
                                     + "\n\n".join(self.mismatches.values()))


def wait_processing(d, base: int, since: float, timeout: float = 1200) -> float | None:
    """Seconds from `since` until the group commits beyond `base` records (None: nothing was left to do)."""
    while time.monotonic() - since < timeout:
        if sum(d.committed().values()) > base:
            return round(time.monotonic() - since, 2)
        if d.lag() == 0:
            return None
        time.sleep(0.2)
    raise AssertionError(f"the worker did not process anything within {timeout} s of its restart")


@pytest.fixture(scope="module")
def shared_reduced_run(request, broker, tmp_path_factory):
    """One reduced run for both tests: two SIGKILLs, the data dir deleted before the first restart."""
    run = CrashRun(tmp_path_factory.mktemp("crash-reduced"), rng_for(request), "reduced", wipes="first")
    try:
        run.run()
    except BaseException:
        run.stop()
        raise
    yield run
    problems = run.stop()
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


def one_run(request, tmp_path, rng, size, wipes) -> CrashRun:
    if size == "reduced":
        return request.getfixturevalue("shared_reduced_run")
    run = CrashRun(tmp_path / "deployment", rng, size, wipes)
    try:
        run.run()
    finally:
        problems = run.stop()
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])
    return run


@pytest.mark.parametrize("size", SIZES)
def test_reports_exact_through_sigkills(request, tmp_path, figures, rng, size):
    run = one_run(request, tmp_path, rng, size, wipes="none")
    run.check(figures, f"after {run.figures['kill_count']} SIGKILLs")


@pytest.mark.parametrize("size", SIZES)
def test_reports_exact_when_local_state_is_lost(request, tmp_path, figures, rng, size):
    run = one_run(request, tmp_path, rng, size, wipes="some")
    assert run.figures["data_dir_deletions"] >= 1
    run.check(figures, f"after {run.figures['kill_count']} SIGKILLs, {run.figures['data_dir_deletions']} with the data dir deleted")
