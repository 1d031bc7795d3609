"""Exports on every core: a shard's scan in a process of its own.

Decoding a stored conversation, making its row and its CSV line cost some
20 µs in Python, all on the worker's one core: 20 s for a million rows. A shard
of a large partition instead checkpoints the stores it reads
(``convoflow.streams.state.checkpoint``) and the contact identifiers' copy,
and a helper process (``python -m convoflow.streams.scan_process``) scans the
checkpoints, writes the shard's sorted runs to files beside them, for the
coordinator to merge, and deletes the checkpoints; the merge of a large export
is itself split by key range across the helpers (``ScanProcesses.merge``,
``exporters/runs.py``). An aggregate report's shard
(``agent_metrics``, ``teams``, ``contacts``, ...) is scanned the same way; its
answer is one file of partials, one per group.

At most ``CONVOFLOW_EXPORT_PROCESSES`` helpers work at once. A helper stays up
between scans (one JSON line per job on its stdin, one per answer on its
stdout), so a scan does not pay for a Python start and the imports; it ends
when the worker closes its stdin (at the worker's stop, or once the helper has
waited ``CONVOFLOW_EXPORT_HELPER_IDLE_SECONDS`` for a job), or dies, and is
killed when a scan it works on is cancelled. A partition of fewer keys than
``CONVOFLOW_EXPORT_PROCESS_MIN_KEYS`` (each counted as often as the report's
``key_cost``: twelve times for ``messages``) is scanned in the worker, where the
checkpoints and the hand-over would cost more than they save.

The helper imports the report rules and rocksdict, never Faust or Kafka.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import shutil
import sys
import time
from collections import deque

import orjson

from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS, decoder, shard_lines, shard_part
from convoflow.exporters.runs import append_run, merge_range, read_run, split_keys
from convoflow.exporters.request import ExportRequest
from convoflow.streams import heap
from convoflow.streams.contact_copy import ContactCopy
from convoflow.streams.state.checkpoint import checkpoint, open_checkpoint
from convoflow.streams.state.partition import estimated_keys, heads_of, scan_store
from convoflow.tables.directory import Directory

log = logging.getLogger("convoflow")
CONTACTS = "contacts-copy"  # the checkpoint of the contact identifiers, beside the stores' (named by table)
RUN_CHUNK = 1_000  # [sort_key, line] items written to a run file at once
HELPER = [sys.executable, "-m", "convoflow.streams.scan_process"]  # jobs on its stdin, answers on its stdout
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # an answer line lists run files: far less
MERGE_SPLIT_BYTES = 4 << 20  # run files of an export from which their merge is split across the helpers


def store_states(report, dbs: dict, keys: dict | None = None):
    """``(table, key, state)`` of a partition's stores (table -> store) as the report reads them: every
    key (of the report's prefix, when it has one for the table), or with ``keys``
    ({table: [[kind, key], ...]}) only those (a live lookup); of a table whose heads the report
    reads, only the heads."""
    for source, db in dbs.items():
        if source in report.heads:
            db = heads_of(db)
        decode = decoder(report, source)
        if keys is not None:
            wanted = keys.get(source, [])
        else:
            prefix = report.prefixes.get(source)
            wanted = None if prefix is None else [["prefix", prefix]]
        for key, value in scan_store(db, wanted):
            yield source, key.decode(), decode(value)


def write_runs(items, directory: str) -> list[list]:
    """``shard_lines``' ``(run, [sort_key, line])`` into one file per run; ``[[run, path], ...]``."""
    files: dict[int, object] = {}
    chunks: dict[int, list] = {}

    def write(run: int) -> None:
        if run not in files:
            files[run] = open(os.path.join(directory, f"run-{run}.jsonl"), "wb")
        append_run(files[run], chunks[run])
        chunks[run] = []

    try:
        for run, item in items:
            chunk = chunks.setdefault(run, [])
            chunk.append(item)
            if len(chunk) >= RUN_CHUNK:
                write(run)
        for run in list(chunks):
            write(run)
    finally:
        for f in files.values():
            f.close()
    return [[run, f.name] for run, f in sorted(files.items())]


def write_part(part: list, directory: str) -> list[list]:
    """An aggregate report's part (``[[group_key, partial], ...]``, one per group: small) as one
    file, the only run: ``[[0, path]]``."""
    path = os.path.join(directory, "part.json")
    with open(path, "wb") as f:
        f.write(orjson.dumps(part))
    return [[0, path]]


def read_part(runs: list[list]) -> list:
    """The part ``write_part`` wrote."""
    with open(runs[0][1], "rb") as f:
        return orjson.loads(f.read())


def read_runs(runs: list[list]):
    """The ``(run, item)`` of run files, run by run (for a coordinator in another worker)."""
    for run, path in runs:
        with open(path, "rb") as f:
            for item in read_run(f):
                yield run, item


def scan(job: dict, directory: str) -> list[list]:
    """The helper's work: the job's report over the checkpoints in ``directory``, into run files there."""
    report = REPORTS[job["report"]]
    contacts = ContactCopy.open_checkpoint(job.get("contacts") or os.path.join(directory, CONTACTS))
    ctx = ReportContext(ExportRequest.from_params(job["request"]), job["as_of_us"], Directory(job["directory"]),
                        contacts.get, job["url_template"])
    stores = {source: open_checkpoint(os.path.join(directory, source)) for source in report.sources}
    try:
        if report.aggregate:
            return write_part(shard_part(report, ctx, store_states(report, stores)), directory)
        return write_runs(shard_lines(report, ctx, store_states(report, stores)), directory)
    finally:
        for db in stores.values():
            db.close()
        contacts.close()


def merge_job(job: dict) -> int:
    """A helper's part of a split merge: the lines of the run files ``job["runs"]`` whose sort key is
    in [``job["low"]``, ``job["high"]``), merged and appended to ``job["out"]``; how many."""
    with open(job["out"], "a", encoding="utf-8", newline="") as out:
        return merge_range(job["runs"], job["low"], job["high"], out)


def drop_checkpoints(job: dict, directory: str | None) -> None:
    """The checkpoints a job scanned, deleted (its run files stay): the helper deletes them once it
    has scanned them, before it answers, so that this is not work for the worker's event loop."""
    if directory is None:
        return
    report = REPORTS.get(job.get("report"))
    for name in [*(report.sources if report else ()), CONTACTS]:
        shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


class Helper:
    """One helper process, up between scans; a scan at a time."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.said: deque[str] = deque(maxlen=20)  # its last lines on stderr, read as they come so it never blocks
        self.idle_since = time.monotonic()  # when it last finished a job (or started)
        self.reading = asyncio.ensure_future(self._read_stderr())

    async def _read_stderr(self) -> None:
        async for line in self.proc.stderr:
            self.said.append(line.decode(errors="replace").rstrip())

    @classmethod
    async def start(cls) -> "Helper":
        return cls(await asyncio.create_subprocess_exec(
            *HELPER,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            limit=MAX_ANSWER_BYTES,
        ))

    async def scan(self, directory: str, job: dict) -> list[list]:
        """The run files (``[[run, path], ...]``) of ``job`` over the checkpoints in ``directory``."""
        return (await self.ask({"directory": directory, "job": job}))["runs"]

    async def merge(self, job: dict) -> int:
        """``merge_job``'s lines written: a key range of run files merged into a segment file."""
        return (await self.ask({"merge": job}))["lines"]

    async def ask(self, request: dict) -> dict:
        proc = self.proc
        try:
            proc.stdin.write(orjson.dumps(request) + b"\n")
            await proc.stdin.drain()
            line = await proc.stdout.readline()
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:  # the helper ended: why is the last line of what it wrote on stderr
            await proc.wait()
            await self.reading
            said = [line for line in self.said if line.strip()]
            raise RuntimeError(f"export scan process failed: {said[-1] if said else f'exit status {proc.returncode}'}")
        answer = orjson.loads(line)
        if "error" in answer:
            raise RuntimeError(f"export scan process failed: {answer['error']}")
        return answer

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self.reading

    async def close(self) -> None:
        """End it the way a worker that stops does: its stdin closes, and it exits."""
        if self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                pass
        await self.kill()


class ScanProcesses:
    """The worker's side: when to use a helper, the checkpoints, the helpers, at most ``limit`` at work at once;
    a helper that waited ``idle_seconds`` for a job ends at the next ``end_idle`` (never, unless given)."""

    def __init__(self, root: str, limit: int, min_keys: int, merge_split_bytes: int = MERGE_SPLIT_BYTES,
                 idle_seconds: float = math.inf):
        self.root, self.limit, self.min_keys = os.path.abspath(root), limit, min_keys
        self.merge_split_bytes, self.idle_seconds = merge_split_bytes, idle_seconds
        self.slots: asyncio.Semaphore | None = None
        self.idle: list[Helper] = []  # helpers up and waiting for a scan, the longest waiting first
        self.helpers = 0  # helpers up: idle, scanning or starting
        # export -> [checkpoint of the contact copy, scans using it]: one per export, not per shard
        self.contact_copies: dict[str, list] = {}
        shutil.rmtree(root, ignore_errors=True)  # what a stopped worker's exports left

    def wanted(self, dbs: dict, key_cost: int = 1) -> bool:
        """Whether a scan of ``dbs`` goes to a helper: their keys, times what one costs the report
        (``Report.key_cost``), reach ``min_keys``."""
        return self.limit > 0 and sum(estimated_keys(db) for db in dbs.values()) * key_cost >= self.min_keys

    async def scan(self, name: str, job: dict, dbs: dict, contacts: ContactCopy,
                   export: str | None = None) -> tuple[str, list[list]]:
        """Checkpoint ``dbs`` (table -> store) into a new directory, have a helper scan them; the
        directory and the helper's run files (``[[run, path], ...]``) in it. The scans of one
        ``export`` (each after its shard's copy of the contacts caught up to the export's offsets)
        share one checkpoint of ``contacts``, made by the first of them."""
        directory = os.path.join(self.root, name)
        os.makedirs(self.root, exist_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        export, copy = export or name, None
        try:
            # On the event loop's thread, not another: a rebalance closes a revoked partition's
            # store from this thread, never in the middle of this.
            started = time.monotonic()
            for source, db in dbs.items():
                checkpoint(db, os.path.join(directory, source))
            copy = self._contact_copy(export, contacts)
            checkpointed = time.monotonic()
            async with self._slots():
                waited = time.monotonic()
                runs = await self.run(directory, {**job, "contacts": copy})
            # The helper is free: the scan waiting for it starts before this one's answer is handled.
            await asyncio.sleep(0)
            log.info("export scan %s: checkpoints %.2f s, waited %.2f s, scan process %.2f s", name,
                     checkpointed - started, waited - checkpointed, time.monotonic() - waited)
            return directory, runs  # the helper deleted the checkpoints
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        finally:
            if copy is not None:
                self._release_contact_copy(export)

    def _slots(self) -> asyncio.Semaphore:
        """At most ``limit`` helpers at work at once (made in the event loop that uses it)."""
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.limit)
        return self.slots

    def _contact_copy(self, export: str, contacts: ContactCopy) -> str:
        shared = self.contact_copies.get(export)
        if shared is None:
            path = os.path.join(self.root, f"{export}-{CONTACTS}")
            shutil.rmtree(path, ignore_errors=True)
            contacts.checkpoint(path)
            shared = self.contact_copies[export] = [path, 0]
        shared[1] += 1
        return shared[0]

    def _release_contact_copy(self, export: str) -> None:
        shared = self.contact_copies[export]
        shared[1] -= 1
        if shared[1] == 0:
            del self.contact_copies[export]
            shutil.rmtree(shared[0], ignore_errors=True)

    async def warm(self) -> None:
        """Start a helper for a scan that is about to come (its export is catching up), unless
        ``limit`` helpers are up: its Python start and imports (some 0.3 s) then pass while the
        export catches up, not in its first scan."""
        if 0 < self.limit and self.helpers < self.limit:
            self._rest(await self._start())

    async def run(self, directory: str, job: dict) -> list[list]:
        """``job`` on an idle helper, or a new one."""
        return await self._on_helper(lambda helper: helper.scan(directory, job))

    async def _on_helper(self, work):
        """``work(helper)`` on an idle helper, or a new one; a helper whose work failed or was
        cancelled is not used again (a cancelled one is killed: its work is of no use)."""
        helper = self.idle.pop() if self.idle else await self._start()
        try:
            answer = await work(helper)
        except BaseException:
            self.helpers -= 1
            await asyncio.shield(helper.kill())
            raise
        self._rest(helper)
        return answer

    def _rest(self, helper: Helper) -> None:
        helper.idle_since = time.monotonic()
        self.idle.append(helper)

    async def end_idle(self, now: float | None = None) -> int:
        """The helpers that waited ``idle_seconds`` or more for a job end (each holds some 35 MB at
        rest; the next export that needs one starts it again, in about 0.1 s); how many ended."""
        now = time.monotonic() if now is None else now
        waiting, ended = [], []
        for helper in self.idle:
            (ended if now - helper.idle_since >= self.idle_seconds else waiting).append(helper)
        self.idle = waiting
        self.helpers -= len(ended)
        for helper in ended:
            await helper.close()
        return len(ended)

    def splits(self, runs: list[str]) -> bool:
        """Whether the merge of the run files ``runs`` is worth splitting across the helpers."""
        return self.limit > 1 and sum(os.path.getsize(path) for path in runs) >= self.merge_split_bytes

    async def merge(self, runs: list[str], out: str) -> int:
        """The sorted run files ``runs`` merged and appended to the file ``out``: split by key range
        into ``limit`` ranges, each merged by a helper into a segment of its own (the first straight
        into ``out``), at once; the other segments are then appended in key order. How many lines."""
        bounds = [None, *split_keys(runs, self.limit), None]
        segments = [out] + [f"{out}.{i}" for i in range(1, len(bounds) - 1)]

        async def merge_range(i: int) -> int:
            job = {"runs": runs, "low": bounds[i], "high": bounds[i + 1], "out": segments[i]}
            async with self._slots():
                return await self._on_helper(lambda helper: helper.merge(job))

        try:
            counts = await all_or_none([merge_range(i) for i in range(len(segments))])
            for segment in segments[1:]:
                _append_file(out, segment)
            return sum(counts)
        finally:
            for segment in segments[1:]:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(segment)

    async def _start(self) -> Helper:
        self.helpers += 1
        try:
            return await Helper.start()
        except BaseException:
            self.helpers -= 1
            raise

    async def close(self) -> None:
        """At the worker's stop: the idle helpers end."""
        helpers, self.idle = self.idle, []
        self.helpers -= len(helpers)
        for helper in helpers:
            await helper.close()


async def all_or_none(coros: list) -> list:
    """The results of ``coros`` run at once; when one fails, the others are cancelled and its
    error raised."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()
        return [t.result() for t in tasks]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _append_file(out: str, path: str) -> None:
    """The file ``path`` appended to the file ``out``, in the kernel (``copy_file_range``) where the
    file system can, else through this process."""
    with open(path, "rb") as src, open(out, "r+b", buffering=0) as dst:
        start, size, done = dst.seek(0, os.SEEK_END), os.fstat(src.fileno()).st_size, 0
        try:
            while done < size and (n := os.copy_file_range(src.fileno(), dst.fileno(), size - done, done, start + done)):
                done += n
        except OSError:
            pass
        if done < size:
            src.seek(done)
            dst.seek(start + done)
            shutil.copyfileobj(src, dst)


def serve(requests, answers) -> None:
    """The helper's loop: a job per line of ``requests``, its answer as a line of ``answers``.

    Between jobs, a helper gives what its last scan freed back to the system (``heap.give_back``):
    it waits for the next export at the size of its imports, not of its largest scan."""
    heap.fix_mmap_threshold()
    for line in requests:
        request = orjson.loads(line)
        try:
            if "merge" in request:
                answer = {"lines": merge_job(request["merge"])}
            else:
                answer = {"runs": scan(request["job"], request["directory"])}
        except Exception as exc:  # the worker says why; the helper goes on with the next job
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        if "merge" not in request:
            drop_checkpoints(request.get("job", {}), request.get("directory"))
        answers.write(orjson.dumps(answer) + b"\n")
        answers.flush()
        gc.collect()
        heap.give_back()


def main(argv: list[str]) -> int:
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to stdout goes to stderr, never into the answers
    # What the imports made lives as long as the helper: frozen, it is left out of every collection,
    # so the one after each job looks only at what the scans made (14 ms a job less at 100,000
    # conversations).
    gc.collect()
    gc.freeze()
    serve(sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
