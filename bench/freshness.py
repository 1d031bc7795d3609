"""Freshness at a steady publish rate: probes published while a background stream is, timed until visible."""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from functools import partial

import orjson

from bench.common import log, percentile
from bench.kafka import export_request, group_lag
from bench.process import WorkerProcess
from bench.streams import background_stream, export_range
from convoflow.contract.config import Settings
from convoflow.tools.publish import request_export


async def steady_load_and_probe(settings: Settings, load: list[dict], rate: float, seconds: float,
                                probe_fn, probe_interval: float, max_inflight: int = 2, idle: bool = False) -> dict:
    """Publish `load` at `rate` events/s for `seconds`; meanwhile start a probe every `probe_interval`
    (at most `max_inflight` at once), each of which appends its latency in ms to `samples` or counts a timeout."""
    from aiokafka import AIOKafkaProducer

    from convoflow.tools.publish import route
    from convoflow.contract.topics import DURABLE_PRODUCER

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5, max_batch_size=512 * 1024,
                                **DURABLE_PRODUCER)
    await producer.start()
    stop = asyncio.Event()
    sent = {"n": 0}

    async def publisher():
        tick = 0.02
        started = time.monotonic()
        i = 0
        pending = []
        while not stop.is_set() and i < len(load):
            due = int((time.monotonic() - started) * rate)
            while i < min(due, len(load)):
                e = load[i]
                topic, key = route(e)
                pending.append(await producer.send(settings.topic(topic), orjson.dumps(e), key=key.encode()))
                i += 1
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending.clear()
            await asyncio.sleep(tick)
        await asyncio.gather(*pending)
        sent["n"] = i
        sent["seconds"] = time.monotonic() - started

    pub = asyncio.ensure_future(publisher())
    samples: list[float] = []
    errors: dict = {}
    inflight: set = set()
    probes = 0
    try:
        await asyncio.sleep(min(2.0, seconds / 5))  # let the load settle first
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (idle or not pub.done()):
            if len(inflight) < max_inflight:
                probes += 1
                task = asyncio.ensure_future(probe_fn(producer, probes, samples, errors))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                if probe_interval <= 0:
                    await task
            await asyncio.sleep(max(probe_interval, 0.01))
        await asyncio.gather(*inflight, return_exceptions=True)
    finally:
        stop.set()
        await pub
        await producer.stop()
    return {"samples": samples, "errors": errors, "timeouts": errors.get("timeout", 0), "probes": probes,
            "published": sent["n"], "publish_rate": sent["n"] / max(sent.get("seconds", 1e-9), 1e-9)}


def has_live_lookup(worker: WorkerProcess, template: str) -> bool:
    """Whether GET `template` answers like an endpoint (200, or a JSON 404) rather than 'no such route'."""
    try:
        status, body, ctype = worker.fetch(template.format(id="bench-no-such-conversation"), timeout=5)
    except OSError:
        return False
    return status == 200 or (status in (400, 404) and "json" in ctype)


def make_lookup_probe(settings: Settings, worker: WorkerProcess, template: str, day: str, timeout: float):
    """A new conversation (message, then resolution) -> GET template answers 200 with the resolution in it.

    The probe resolves its conversation because the row of an open one is not
    what every version of the lookup serves; visibility is of the later event.
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=8)

    async def probe(producer, i: int, samples: list[float], errors: dict) -> None:
        cid = f"fresh-c-{uuid.uuid4().hex[:8]}-{i}"
        marker = f"freshness probe {cid}"
        created = {"event_id": f"fresh-e1-{cid}", "type": "message.created", "occurred_at": f"{day}T12:00:00.000Z",
                   "message_id": f"fresh-m-{cid}", "conversation_id": cid, "channel_id": "ch-1",
                   "contact_profile_id": f"fresh-ct-{i}", "direction": "INBOUND", "message_type": "TEXT",
                   "origin": "CONTACT", "content": "freshness probe"}
        resolved = {"event_id": f"fresh-e2-{cid}", "type": "conversation.status_changed",
                    "occurred_at": f"{day}T12:00:01.000Z", "conversation_id": cid, "status": "RESOLVED",
                    "resolved_by": "SYSTEM", "resolve_trigger": "AUTO_RESOLVE", "resolve_comment": marker}
        started = time.monotonic()
        await asyncio.gather(
            await producer.send(settings.topic("messages"), orjson.dumps(created), key=cid.encode()),
            await producer.send(settings.topic("status-changes"), orjson.dumps(resolved), key=cid.encode()))
        path = template.format(id=cid)
        loop = asyncio.get_running_loop()
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                break
            try:
                status, body, _ = await loop.run_in_executor(pool, partial(worker.fetch, path, timeout=min(left, 5.0)))
            except OSError as exc:
                status, body = type(exc).__name__, b""
            if status == 200 and marker.encode() in body:
                samples.append((time.monotonic() - started) * 1000)
                return
            if status not in (200, 404):
                errors[status] = errors.get(status, 0) + 1
            await asyncio.sleep(0.05)  # each lookup is a shard request through Kafka: do not swamp the worker
        errors["timeout"] = errors.get("timeout", 0) + 1

    return probe


def make_export_probe(settings: Settings, day: str, as_of: str, timeout: float):
    """A new agent's presence -> a completed agent_presence export that lists it."""
    async def probe(producer, i: int, samples: list[float], errors: dict) -> None:
        agent = f"fresh-a-{uuid.uuid4().hex[:8]}-{i}"
        event = {"event_id": f"fresh-e-{agent}", "type": "presence.changed", "occurred_at": f"{day}T12:00:00.000Z",
                 "agent_id": agent, "state": "AVAILABLE"}
        started = time.monotonic()
        await producer.send_and_wait(settings.topic("presence"), orjson.dumps(event), key=agent.encode())
        result = await request_export(settings, export_request("agent_presence", day, day, as_of), timeout)
        if result.get("status") != "completed":
            key = "timeout" if "no result within" in str(result.get("error")) else str(result.get("status"))
            errors[key] = errors.get(key, 0) + 1
            return
        with open(result["file"], "rb") as f:
            found = agent.encode() in f.read()
        os.remove(result["file"])
        if not found:
            errors["missing"] = errors.get("missing", 0) + 1
            return
        samples.append((time.monotonic() - started) * 1000)

    return probe


def freshness(args, settings: Settings, worker: WorkerProcess, rss, lag_topics: list[str], fig: dict,
              notes: dict) -> None:
    """``freshness_p50_ms``/``freshness_p99_ms`` while ``--freshness-rate`` background events/s are published for
    ``--freshness-seconds`` (after ``freshness_idle_p99_ms``, the same probe without load)."""
    first_day, _, as_of = export_range(args)
    n_load = int(args.freshness_rate * (args.freshness_seconds + 10))
    conv = max(10, n_load // 22)
    load = background_stream(args, args.seed + 1, conv, "f")[:n_load]
    lookup = has_live_lookup(worker, args.lookup_path)
    if lookup:
        probe = make_lookup_probe(settings, worker, args.lookup_path, first_day, args.probe_timeout)
        interval = 0.25
        notes["freshness_p99_ms"] = f"publish (acked) -> GET {args.lookup_path} answers 200 with the event"
    else:
        probe = make_export_probe(settings, first_day, as_of, args.probe_timeout)
        interval = 0  # one export at a time
        notes["freshness_p99_ms"] = ("no live-lookup endpoint (GET " + args.lookup_path + "): publish (acked) "
                                     "-> a completed agent_presence export that includes the event")
    log(f"freshness: {len(load):,} background events at {args.freshness_rate:,}/s for "
        f"{args.freshness_seconds} s, via {'lookup' if lookup else 'export'}")
    rss.phase("freshness")
    idle = asyncio.run(steady_load_and_probe(settings, [], 0, min(10.0, max(2.0, args.freshness_seconds / 3)),
                                             probe, interval, idle=True))
    v = percentile(idle["samples"] + [float("inf")] * idle["timeouts"], 99)
    fig["freshness_idle_p99_ms"] = None if v is None else round(min(v, args.probe_timeout * 1000), 1)
    res = asyncio.run(steady_load_and_probe(settings, load, args.freshness_rate, args.freshness_seconds,
                                            probe, interval))
    del load
    fig["freshness_method"] = "lookup" if lookup else "export"
    fig["freshness_samples"] = len(res["samples"])
    fig["freshness_timeouts"] = res["timeouts"]
    fig["freshness_publish_eps"] = round(res["publish_rate"])
    fig["freshness_end_lag"] = asyncio.run(group_lag(settings, lag_topics, settings.app_id))
    if res["errors"]:
        notes["freshness_errors"] = {str(k): v for k, v in res["errors"].items()}
    # A probe that never became visible counts as infinitely late: p99 is then at least the timeout.
    values = res["samples"] + [float("inf")] * res["timeouts"]
    for q in (50, 99):
        v = percentile(values, q)
        if v is None:
            fig[f"freshness_p{q}_ms"] = None
        elif v == float("inf"):
            fig[f"freshness_p{q}_ms"] = round(args.probe_timeout * 1000)
            fig[f"freshness_p{q}_ms_is_lower_bound"] = True
        else:
            fig[f"freshness_p{q}_ms"] = round(v, 1)
    log(f"freshness p50 {fig['freshness_p50_ms']} ms, p99 {fig['freshness_p99_ms']} ms "
        f"({len(res['samples'])} samples, {res['timeouts']} timeouts, end lag {fig['freshness_end_lag']:,})")
