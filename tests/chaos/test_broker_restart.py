"""Broker restarts.

The broker the tests use is stopped and started again with scripts/kafka.sh
(KAFKA_HOME from the environment, default .kafka; the port of CONVOFLOW_BROKER)
in the middle of ingestion, and once in the middle of an export. The worker
process is never restarted: it must reconnect by itself and lose nothing. The
export caught by the restart completes (and is exact) or fails with a clear
error; a retry with a new request_id then completes and is exact.

The same restarts also catch a second deployment whose worker was started just
before the broker went away (as when a broker and its workers are restarted
together): it must get its partitions once the broker is back.

One scenario (a module fixture, per size) runs the restarts; the tests check
what it recorded.
"""
import os
import random
import time
import uuid
from datetime import datetime

import orjson
import pytest

from tests.chaos.conftest import (BENIGN_BROKER_AWAY, SIZES, ChaosDeployment, Publisher, RecoveryProbe,
                                  kafka_sh, problems_in, simulated)
from tests.integration.harness import cell_diff
from tests.reference import model

TZ, FIRST, LAST, AS_OF = "Asia/Kathmandu", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

PLAN = {
    # restarts_at: fractions of the records published when the broker is restarted while records arrive;
    # export_at: the fraction at which publishing pauses, an export is requested and the broker restarted;
    # late_workers_at: before which restarts (index) `late_workers` workers of other deployments are started
    # (several: the bug they look for shows only when their first join races the broker's metadata loading).
    "reduced": dict(conversations=350, restarts_at=(), export_at=0.5, chunk=2000, publish_seconds=3.0, away=(0.5, 1.0),
                    late_workers_at=(0,), late_workers=3),
    "full": dict(conversations=3000, restarts_at=(0.15, 0.35, 0.55), export_at=0.75, chunk=4000, publish_seconds=45.0,
                 away=(1.0, 5.0), late_workers_at=(0, 3), late_workers=2),
}
LATE_PARTITIONS_WITHIN = 30.0  # seconds after the broker is back; a normal join takes a few


class BrokerGuard:
    """Stops/starts the broker; whatever happens, the broker is up again when the test ends."""

    def __init__(self):
        self.down = False
        self.figures = []

    def restart(self, away: float) -> dict:
        t0 = time.monotonic()
        self.down = True
        down_s = kafka_sh("down")
        time.sleep(away)
        up_s = kafka_sh("up")
        self.down = False
        return {"down_s": round(down_s, 1), "away_s": round(away, 1), "up_s": round(up_s, 1),
                "outage_s": round(time.monotonic() - t0, 1)}

    def close(self):
        if self.down:
            kafka_sh("up")




class Scenario:
    def __init__(self, size, root, rng):
        self.size, self.plan, self.root, self.rng = size, PLAN[size], root, rng
        self.figures: dict = {}
        self.problems: list[str] = []  # the main deployment's
        self.late: list[dict] = []  # one per late worker
        self.guard = BrokerGuard()
        self.deployments: list[ChaosDeployment] = []
        self.restarts = 0

    def deployment(self, **kw) -> ChaosDeployment:
        d = ChaosDeployment(self.root / f"deployment-{len(self.deployments)}", **kw)
        d.benign = BENIGN_BROKER_AWAY
        self.deployments.append(d)
        return d

    def add(self, key, value):
        self.figures[key] = self.figures.get(key, []) + [value]

    def restart(self) -> dict:
        """Restart the broker; a worker of a new deployment is started right before some of the restarts."""
        late = []
        if self.restarts in self.plan["late_workers_at"]:
            for _ in range(self.plan["late_workers"]):
                d = self.deployment(worker_env={"CONVOFLOW_EXPORT_TIMEOUT": "30"})
                late.append({"restart": self.restarts + 1, "deployment": d, "worker": d.start_worker()})
        self.restarts += 1
        info = self.guard.restart(self.rng.uniform(*self.plan["away"]))
        for one in late:
            one["up_at"] = time.monotonic()
        self.late += late
        return info

    def check_late_workers(self) -> None:
        """Each late worker gets partitions, and its deployment answers an exact export."""
        for late in self.late:
            if "assigned_s" in late:
                continue
            w, d = late["worker"], late["deployment"]
            while not w.assigned() and time.monotonic() - late["up_at"] < LATE_PARTITIONS_WITHIN:
                time.sleep(0.2)
            late["assigned_s"] = round(time.monotonic() - late["up_at"], 1) if w.assigned() else None
            if late["assigned_s"] is None:
                late["export"] = "not tried: no partitions"
                continue
            if late is not self.late[0] and self.size == "reduced":
                late["export"] = late["exact"] = "not tried (reduced: the first late worker exports)"
                continue
            events, noisy = simulated(30, seed=len(self.figures) + late["restart"])
            d.publish(noisy)
            result, body = d.export("messages", "UTC", FIRST, LAST, as_of=AS_OF, timeout=45)
            late["export"] = result["status"] if result["status"] != "failed" else f"failed: {result.get('error')}"
            late["exact"] = body == model.report(events, "messages", "UTC", FIRST, LAST, as_of=AS_OF)

    def run(self) -> None:
        plan = self.plan
        events, noisy = simulated(plan["conversations"], seed=self.rng.randrange(1, 10**6))
        d = self.main = self.deployment(worker_env={"CONVOFLOW_EXPORT_TIMEOUT": "60"})
        worker = d.start_worker()
        pid = worker.proc.pid
        deadline = time.monotonic() + 60
        while not worker.assigned():
            assert time.monotonic() < deadline, "the worker got no partitions"
            time.sleep(0.2)
        self.figures["events"] = len(events)
        self.figures["records_published"] = len(noisy)
        chunks = -(-len(noisy) // plan["chunk"])
        publisher = Publisher(d.settings, noisy, plan["chunk"], pause=plan["publish_seconds"] / chunks)
        t0 = time.monotonic()
        publisher.start()
        try:
            for at in plan["restarts_at"]:
                self.restart_during_ingestion(d, publisher, worker, pid, at)
            self.restart_during_export(d, publisher, worker, pid, noisy)
        finally:
            publisher.release()
        publisher.join_checked()
        self.figures["publish_retries"] = publisher.retries
        self.figures["catch_up_s"] = round(d.wait_caught_up(timeout=300), 1)
        self.figures["broker_restarts"] = self.restarts
        # Nothing lost: all twelve reports are exact, and it is the same worker process.
        self.problems += d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=self.figures)
        self.figures["total_seconds"] = round(time.monotonic() - t0, 1)
        if not (worker.alive() and worker.proc.pid == pid):
            self.problems.append("the worker process did not survive")

    def restart_during_ingestion(self, d, publisher, worker, pid, at):
        while publisher.fraction < at and not publisher.finished.is_set():
            time.sleep(0.05)
        restart = {"published": round(publisher.fraction, 3), "lag_before": d.lag()}
        restart.update(self.restart())
        probe = RecoveryProbe(d, d.input_end_offsets(), time.monotonic(), "broker")
        probe.start()
        restart["recover_s"] = probe.wait(180)  # everything acknowledged before the restart is processed
        self.add("ingestion_restarts", restart)
        assert worker.alive() and worker.proc.pid == pid, "the worker died while the broker was away"
        assert restart["recover_s"] is not None, f"the worker did not resume within 180 s after the broker came back: {restart}"

    def restart_during_export(self, d, publisher, worker, pid, noisy):
        """Pause publishing (so the export's content is known), request an export while the worker still lags
        behind, restart the broker at once; publishing resumes after."""
        plan = self.plan
        while publisher.fraction < plan["export_at"] and not publisher.finished.is_set():
            time.sleep(0.05)
        acked = publisher.hold()
        rid = f"during-restart-{uuid.uuid4().hex[:8]}"
        request = {"request_id": rid, "export_type": "messages", "time_zone": TZ, "date_from": FIRST, "date_to": LAST,
                   "as_of": AS_OF}
        outcome = {"published": round(acked / len(noisy), 3), "lag_before": d.lag()}
        self.figures["export_restart"] = outcome
        d.request_raw(orjson.dumps(request), rid.encode(), None)
        down_at = time.time()
        outcome.update(self.restart())
        results = d.wait_result(rid, 180)
        final = results[-1]
        outcome["statuses"] = [r["status"] for r in results]
        finished = final.get("finished_at")
        if finished:  # did the restart really catch the export?
            outcome["finished_after_down_began_s"] = round(
                datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp() - down_at, 2)
        expected = model.report(noisy[:acked], "messages", TZ, FIRST, LAST, as_of=AS_OF)
        if final["status"] == "completed":
            body = open(final["file"], "rb").read()
            outcome["exact"] = body == expected
            assert body == expected, "an export that completed across a broker restart is wrong:\n" + cell_diff(expected, body)
        else:
            outcome["error"] = final.get("error")
            assert final["status"] == "failed", f"the export caught by the restart neither completed nor failed: {results}"
            assert final.get("error"), f"failed without an error: {final}"
            retry, body = d.export("messages", TZ, FIRST, LAST, as_of=AS_OF, timeout=180)
            outcome["retry"] = retry["status"]
            assert retry["status"] == "completed", f"the retry with a new request_id failed: {retry}"
            assert body == expected, cell_diff(expected, body)
        assert worker.alive() and worker.proc.pid == pid, "the worker died while the broker was away"


@pytest.fixture(scope="module", params=SIZES)
def scenario(request, broker, tmp_path_factory):
    kafka_sh("status")  # the broker must be the one scripts/kafka.sh controls
    seed = int(os.environ.get("CHAOS_SEED", "0")) or random.SystemRandom().randrange(1, 10**9)
    print(f"\nchaos seed for the {request.param} broker restarts: CHAOS_SEED={seed}", flush=True)
    sc = Scenario(request.param, tmp_path_factory.mktemp(f"broker-restarts-{request.param}"), random.Random(seed))
    sc.seed = seed
    t0 = time.monotonic()
    try:
        try:
            sc.run()
        except AssertionError as exc:
            sc.problems.append(str(exc))
        sc.check_late_workers()
        sc.guard.close()
    except BaseException:
        try:
            sc.guard.close()
        finally:
            for d in sc.deployments:
                d.stop()
        raise
    sc.figures["scenario_seconds"] = round(time.monotonic() - t0, 1)
    yield sc
    for d in sc.deployments:
        d.stop()
    for d in sc.deployments:
        d.delete_topics()
    problems = problems_in(sc.main.logs(), BENIGN_BROKER_AWAY)
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


def test_worker_survives_broker_restarts_during_ingestion_and_export(scenario, figures):
    figures["seed"] = scenario.seed
    for k, v in scenario.figures.items():
        figures[k] = v
    assert not scenario.problems, "\n\n".join(scenario.problems)


# A worker whose first group join happens while the restarted broker does not list the topics yet gets an
# empty assignment and the Kafka client does not rejoin by itself: streams/watchdog.py asks for a new join.


def test_worker_started_just_before_a_broker_restart_gets_its_partitions(scenario, figures):
    """The first join races the broker's metadata loading (an empty assignment about every other run); every late
    worker must still get partitions and answer exactly."""
    late = [{k: v for k, v in one.items() if k not in ("deployment", "worker", "up_at")} for one in scenario.late]
    figures["late_workers"] = late
    assert late, "no late worker was started"
    for one in late:
        if one["assigned_s"] is not None and not str(one["export"]).startswith("not tried"):
            assert one["export"] == "completed" and one["exact"] is True, late
    stranded = [one for one in late if one["assigned_s"] is None]
    assert not stranded, (f"{len(stranded)} of {len(late)} late workers had no partitions "
                          f"{LATE_PARTITIONS_WITHIN:.0f} s after the broker came back: {late}")
