"""Bad export requests.

Each bad record on ``<prefix>export-requests`` gets a ``failed`` result on
``<prefix>export-results`` with a specific error, or, when it has no usable
request_id, a dead letter. No file is ever written outside the export folder,
and the processor keeps answering good requests.
"""
import os
import re
import time
import uuid
from pathlib import Path

import orjson
import pytest

from tests.chaos.conftest import SIZES, simulated
from tests.integration.harness import cell_diff
from tests.reference import model

REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # docs/reports.md
GOOD = {"export_type": "messages", "time_zone": "Europe/Amsterdam", "date_from": "2024-10-25", "date_to": "2024-10-28",
        "as_of": "2024-10-29T12:00:00Z"}


def failing_requests(evil_dir: Path):
    """(name, request fields over GOOD, words its error must contain (alternatives split by |))."""
    return [
        ("unknown type", {"export_type": "no_such_report"}, ("export_type|export type",)),
        ("type of another product", {"export_type": "Messages"}, ("export_type|export type",)),
        ("type missing", {"export_type": None}, ("export_type|export type",)),
        ("type not a string", {"export_type": ["messages"]}, ("export_type|export type",)),
        ("unknown time zone", {"time_zone": "Mars/Olympus_Mons"}, ("time zone|time_zone",)),
        ("time zone as a path", {"time_zone": "../../../../etc/passwd"}, ("time zone|time_zone",)),
        ("time zone empty", {"time_zone": ""}, ("time zone|time_zone",)),
        ("time zone missing", {"time_zone": None}, ("time zone|time_zone",)),
        ("time zone not a string", {"time_zone": 2}, ("time zone|time_zone",)),
        ("reversed dates", {"date_from": "2024-10-28", "date_to": "2024-10-25"}, ("date_from|date_to|date",)),
        ("impossible date", {"date_from": "2024-02-30", "date_to": "2024-03-01"}, ("2024-02-30|date_from",)),
        ("impossible end date", {"date_to": "2023-02-29", "date_from": "2023-02-01"}, ("2023-02-29|date_to",)),
        ("month 13", {"date_to": "2024-13-01"}, ("date_to|date",)),
        ("date with slashes", {"date_from": "2024/10/25"}, ("date_from|date",)),
        ("date without dashes", {"date_to": "20241028"}, ("date_to|date",)),
        ("date with a time", {"date_from": "2024-10-25T00:00:00Z"}, ("date_from|date",)),
        ("date missing", {"date_to": None}, ("date_to|date",)),
        ("date not a string", {"date_from": 20241025}, ("date_from|date",)),
        ("367 days", {"date_from": "2023-01-01", "date_to": "2024-01-02"}, ("366|days|range",)),
        ("ten years", {"date_from": "2015-01-01", "date_to": "2024-12-31"}, ("366|days|range",)),
        ("channels not a list", {"channels": "ch-1"}, ("channel",)),
        ("channels of numbers", {"channels": [1, 2]}, ("channel",)),
        ("channels with an empty id", {"channels": [""]}, ("channel",)),
        ("as_of not a time", {"as_of": "tomorrow"}, ("as_of",)),
        ("as_of a number", {"as_of": 1730203200}, ("as_of",)),
    ]


def unusable_ids(evil_dir: Path):
    """Request ids that must not be used (as a file name or a result key): a dead letter, or a failed result."""
    return ["../x", "../../x", "..", ".", "../" + "a" * 10, "x/../../y", "a/b", "x.csv", "x\\..\\y", "",
            "a" * 65, "b" * 1000, str(evil_dir / "abs"), "/etc/passwd", "~root", "x y", "x\x00y", "\u00e4\u00f6", "x\n",
            "%2e%2e%2fx", "x;rm -rf", "x:y", "x*"]


# Valid requests at the edges: they complete, or fail with an error that names the date (range).
EDGES = [
    ("64-character request_id", {"request_id": "a" * 64}, None),
    ("366 days (leap year)", {"date_from": "2024-01-01", "date_to": "2024-12-31", "export_type": "teams"}, None),
    ("366 days (across a year end)", {"date_from": "2023-03-01", "date_to": "2024-02-29", "export_type": "agent_metrics"}, None),
    ("the last representable day", {"date_from": "9999-12-31", "date_to": "9999-12-31"}, ("date|range",)),
    ("the first representable day", {"date_from": "0001-01-01", "date_to": "0001-01-01", "time_zone": "Asia/Kathmandu"},
     ("date|range",)),
]


@pytest.mark.parametrize("size", SIZES)
def test_bad_export_requests_fail_clearly_and_write_nothing_outside(chaos_deployment, figures, rng, size, tmp_path):
    events, noisy = simulated(40 if size == "reduced" else 200, seed=rng.randrange(1, 10**6))
    d = chaos_deployment()
    worker = d.start_worker()
    d.publish(noisy)
    evil_dir = tmp_path / f"evil-{uuid.uuid4().hex[:8]}"  # a place no export may write to
    evil_dir.mkdir()
    watched = [d.root, d.root.parent, evil_dir]
    before = {p: snapshot(p, deep=(p == d.root)) for p in watched}

    problems, failed, letters_expected, valid_done = [], 0, [], []
    t0 = time.monotonic()
    cases = failing_requests(evil_dir) + EDGES
    if size == "full":
        cases += fuzz_cases(rng, 300)
    sent, records = [], []
    for i, (name, fields, expect) in enumerate(cases):
        request = {**GOOD, "request_id": f"bad-{i}-{uuid.uuid4().hex[:8]}"}
        for k, v in fields.items():
            if v is None:
                request.pop(k, None)
            else:
                request[k] = v
        sent.append((name, fields, expect, request["request_id"]))
        records.append(("export-requests", request["request_id"].encode(), orjson.dumps(request), None))
    d.produce_raw(records)
    answers = d.wait_results([rid for *_, rid in sent], timeout=120 + 2 * len(sent))
    for name, fields, expect, rid in sent:
        final = answers[rid][-1]
        if expect is None:  # valid
            if final["status"] != "completed":
                problems.append(f"{name}: a valid request got {final}")
            valid_done.append(rid)
            continue
        if (name, fields, expect) in EDGES:  # valid, at the edge
            figures.add("edges", {"case": name, "status": final["status"], "error": final.get("error")})
            if final["status"] == "completed":
                valid_done.append(rid)
                continue
        failed += 1
        if final["status"] != "failed":
            problems.append(f"{name}: expected a failed result, got {final}")
            continue
        error = final.get("error") or ""
        if not all(any(a.lower() in error.lower() for a in item.split("|")) for item in expect):
            problems.append(f"{name}: error {error!r} does not name {expect}")
        if final.get("request_id") != rid or final.get("file") or final.get("rows"):
            problems.append(f"{name}: failed result has {final}")
    figures["failed_results"] = failed

    # No usable request_id: a dead letter with the original bytes (or a failed result under that key).
    bad_ids = unusable_ids(evil_dir)
    raw_cases = [(f"request_id {rid!r:.40}", orjson.dumps({**GOOD, "request_id": rid}), rid.encode("utf-8", "surrogatepass"))
                 for rid in bad_ids]
    raw_cases += [
        ("request_id a number", orjson.dumps({**GOOD, "request_id": 42}), b"42"),
        ("request_id missing", orjson.dumps(GOOD), None),
        ("request_id a list", orjson.dumps({**GOOD, "request_id": ["a"]}), b"a"),
        ("malformed JSON", b'{"request_id": "r-1", "export_type": "messages",', b"r-1"),
        ("not JSON at all", b"please export everything", None),
        ("JSON array", orjson.dumps([{**GOOD, "request_id": "r-2"}]), b"r-2"),
        ("JSON null", b"null", None),
        ("empty value", b"", None),
        ("invalid UTF-8", b'{"request_id": "r-\xff", "export_type": "messages"}', b"r-\xff"),
    ]
    d.produce_raw([("export-requests", key, value, None) for name, value, key in raw_cases])
    letters_expected = list(raw_cases)
    figures["unusable_requests"] = len(letters_expected)

    # The processor still answers, and exactly.
    result, body = d.export("messages", "Europe/Amsterdam", "2024-10-25", "2024-10-28", as_of=GOOD["as_of"])
    assert result["status"] == "completed", result
    expected = model.report(events, "messages", "Europe/Amsterdam", "2024-10-25", "2024-10-28", as_of=GOOD["as_of"])
    assert body == expected, cell_diff(expected, body)

    deadline = time.monotonic() + 60
    while True:
        letters = d.read_topic("dead-letters")
        if len(letters) >= len(letters_expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    results_by_key = {}
    for r in d.read_topic("export-results"):
        results_by_key.setdefault(r.key, []).append(orjson.loads(r.value))
    figures["dead_letters"] = len(letters)
    topic = d.settings.topic("export-requests")
    for name, value, key in letters_expected:
        found = [r for r in letters if r.value == value and r.key == key]
        if not found:
            answered = results_by_key.get(key, [])
            if answered and all(a["status"] == "failed" and "request_id" in (a.get("error") or "") for a in answered):
                continue
            problems.append(f"{name}: no dead letter with the original key and value (results under its key: {answered})")
            continue
        headers = dict(found[0].headers)
        if headers.get("source_topic", b"").decode() != topic or "reason" not in headers:
            problems.append(f"{name}: dead letter headers {found[0].headers}")
        elif not re.search(r"request_id|json|object|utf-8|empty", headers["reason"].decode("utf-8", "replace"), re.I):
            problems.append(f"{name}: dead letter reason {headers['reason']!r} is not specific")
        if answered := [a for a in results_by_key.get(key or b"", []) if a["status"] == "completed"]:
            problems.append(f"{name}: completed under key {key!r}: {answered}")

    # Files: only completed exports, inside the export folder; nothing anywhere else.
    completed = [r for rs in results_by_key.values() for r in rs if r.get("status") == "completed"]
    for r in completed:
        if os.path.dirname(os.path.abspath(r["file"])) != str(d.export_dir.resolve()):
            problems.append(f"a completed export outside the export folder: {r}")
    unexpected = sorted({p.name for p in d.export_dir.iterdir()} - {Path(r["file"]).name for r in completed})
    if unexpected:
        problems.append(f"unexpected files in the export folder: {unexpected}")
    for rid in bad_ids:
        for suffix in (".csv", ".csv.part"):
            naive = os.path.normpath(os.path.join(str(d.export_dir), rid.replace("\x00", "") + suffix))
            if not naive.startswith(str(d.export_dir) + os.sep) and os.path.exists(naive):
                problems.append(f"request_id {rid!r:.40}: {naive} exists")
    for p in watched:
        created = snapshot(p, deep=(p == d.root)) - before[p]
        if p == d.root:
            created = {f for f in created if not f.startswith(("worker-", "exports"))}
        if created:
            problems.append(f"files created in {p}: {sorted(created)[:20]}")
    figures["seconds_for_bad_requests"] = round(time.monotonic() - t0, 1)
    assert worker.alive(), "the worker died"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def snapshot(root: Path, deep: bool) -> set[str]:
    if not root.exists():
        return set()
    if not deep:
        return {p.name for p in root.iterdir()}
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames + dirnames:
            out.add(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def fuzz_cases(rng, n: int):
    """Random damage to a good request; the expectation is computed from the contract."""
    out = []
    tzs = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Nowhere/City", "utc", "Etc/GMT+14", "+02:00", "Europe/Amsterdam "]
    dates = ["2024-10-25", "2024-10-28", "2024-02-29", "2023-02-29", "2024-02-30", "2024-04-31", "0000-01-01",
             "2024-1-01", "2024-10-25 ", "٢٠٢٤-١٠-٢٥", "2022-10-25", "2025-10-26"]
    types = ["messages", "teams", "contacts", "agent_presence", "unknown", "", "MESSAGES", "conversations"]
    for i in range(n):
        fields = {"export_type": rng.choice(types), "time_zone": rng.choice(tzs),
                  "date_from": rng.choice(dates), "date_to": rng.choice(dates)}
        out.append((f"fuzz {i} {fields}", fields, expectation(fields)))
    return out


def expectation(fields):
    from datetime import date
    from zoneinfo import ZoneInfo

    if fields["export_type"] not in ("messages", "teams", "contacts", "agent_presence"):
        return ("export_type|export type",)
    try:
        if fields["time_zone"] != fields["time_zone"].strip() or not fields["time_zone"]:
            raise ValueError
        ZoneInfo(fields["time_zone"])
    except Exception:
        return ("time zone|time_zone",)
    days = []
    for k in ("date_from", "date_to"):
        v = fields[k]
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
            return ("date",)
        try:
            days.append(date.fromisoformat(v))
        except ValueError:
            return ("date",)
    if days[0] > days[1]:
        return ("date",)
    if (days[1] - days[0]).days + 1 > 366:
        return ("366|days|range",)
    return None
