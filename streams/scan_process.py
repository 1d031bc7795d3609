"""Row exports on every core: a shard's scan in a process of its own.

Decoding a stored conversation, making its row and its CSV line cost some
20 µs in Python, all on the worker's one core: 20 s for a million rows. A shard
of a large partition instead checkpoints the stores it reads
(``convoflow.streams.state.checkpoint``) and the contact identifiers' copy,
and a helper process (``python -m convoflow.streams.scan_process DIR``) scans the
checkpoints and writes the shard's sorted runs to files in DIR, for the
coordinator to merge. At most ``CONVOFLOW_EXPORT_PROCESSES`` helpers run at
once; a partition of fewer keys than ``CONVOFLOW_EXPORT_PROCESS_MIN_KEYS`` is
scanned in the worker, where starting a process would cost more than it saves.

The helper imports the report rules and rocksdict, never Faust or Kafka.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time

import orjson

from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS, append_run, decoder, read_run, shard_lines
from convoflow.exporters.request import ExportRequest
from convoflow.streams.contact_copy import ContactCopy
from convoflow.streams.state.checkpoint import checkpoint, open_checkpoint
from convoflow.streams.state.partition import estimated_keys, scan_store
from convoflow.tables.directory import Directory

log = logging.getLogger("convoflow")
CONTACTS = "contacts-copy"  # the checkpoint of the contact identifiers, beside the stores' (named by table)
RUN_CHUNK = 1_000  # [sort_key, line] items written to a run file at once
HELPER = [sys.executable, "-m", "convoflow.streams.scan_process"]  # + the directory; the job on stdin


def store_states(report, dbs: dict, keys: dict | None = None):
    """``(table, key, state)`` of a partition's stores (table -> store) as the report reads them: every
    key (of the report's prefix, when it has one for the table), or with ``keys``
    ({table: [[kind, key], ...]}) only those (a live lookup)."""
    for source, db in dbs.items():
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


def read_runs(runs: list[list]):
    """The ``(run, item)`` of run files, run by run (for a coordinator in another worker)."""
    for run, path in runs:
        with open(path, "rb") as f:
            for item in read_run(f):
                yield run, item


def scan(job: dict, directory: str) -> list[list]:
    """The helper's work: the job's report over the checkpoints in ``directory``, into run files there."""
    report = REPORTS[job["report"]]
    contacts = ContactCopy.open_checkpoint(os.path.join(directory, CONTACTS))
    ctx = ReportContext(ExportRequest.from_params(job["request"]), job["as_of_us"], Directory(job["directory"]),
                        contacts.get, job["url_template"])
    stores = {source: open_checkpoint(os.path.join(directory, source)) for source in report.sources}
    try:
        return write_runs(shard_lines(report, ctx, store_states(report, stores)), directory)
    finally:
        for db in stores.values():
            db.close()
        contacts.close()


class ScanProcesses:
    """The worker's side: when to use a helper, the checkpoints, the process, at most ``limit`` at once."""

    def __init__(self, root: str, limit: int, min_keys: int):
        self.root, self.limit, self.min_keys = os.path.abspath(root), limit, min_keys
        self.slots: asyncio.Semaphore | None = None
        shutil.rmtree(root, ignore_errors=True)  # what a stopped worker's exports left

    def wanted(self, dbs: dict) -> bool:
        return self.limit > 0 and sum(estimated_keys(db) for db in dbs.values()) >= self.min_keys

    async def scan(self, name: str, job: dict, dbs: dict, contacts: ContactCopy) -> tuple[str, list[list]]:
        """Checkpoint ``dbs`` (table -> store) and ``contacts`` into a new directory, run the helper
        on them; the directory and the helper's run files (``[[run, path], ...]``) in it."""
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.limit)
        directory = os.path.join(self.root, name)
        os.makedirs(self.root, exist_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        try:
            # On the event loop's thread, not another: a rebalance closes a revoked partition's
            # store from this thread, never in the middle of this.
            started = time.monotonic()
            for source, db in dbs.items():
                checkpoint(db, os.path.join(directory, source))
            contacts.checkpoint(os.path.join(directory, CONTACTS))
            checkpointed = time.monotonic()
            async with self.slots:
                waited = time.monotonic()
                runs = await run_helper(directory, job)
            log.info("export scan %s: checkpoints %.2f s, waited %.2f s, scan process %.2f s", name,
                     checkpointed - started, waited - checkpointed, time.monotonic() - waited)
            for source in [*dbs, CONTACTS]:
                shutil.rmtree(os.path.join(directory, source), ignore_errors=True)
            return directory, runs
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise


async def run_helper(directory: str, job: dict) -> list[list]:
    proc = await asyncio.create_subprocess_exec(
        *HELPER, directory,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        out, err = await proc.communicate(orjson.dumps(job))
    except BaseException:  # cancelled (the partition moved): the helper's work is of no use
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"]
        raise RuntimeError(f"export scan process failed: {lines[-1]}")
    return orjson.loads(out)["runs"]


def main(argv: list[str]) -> int:
    directory = argv[1]
    runs = scan(orjson.loads(sys.stdin.buffer.read()), directory)
    sys.stdout.buffer.write(orjson.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
