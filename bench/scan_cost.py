"""What an export helper's scan of one shard costs, on the worker data dir a run kept.

``python -m bench.scan_cost --work-dir DIR --report conversations_resolved --partition 0 --runs 5``

``DIR`` is the ``--work-dir`` of a ``bench.run`` (its ``worker-data`` holds the
tables' partitions and the contact identifiers' copy). The stores are
checkpointed as a worker checkpoints them for a helper, and the helper's own
``scan`` runs ``--runs`` times; the times and the rows' or groups' count are
printed. On a machine whose speed drifts, compare two versions of the code by
the instructions one scan takes, which do not drift:

``valgrind --tool=callgrind --callgrind-out-file=N.out python -m bench.scan_cost ... --runs N``

for N = 0 and 1: the difference of the two ``Collected`` totals is one scan.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from convoflow.contract.times import parse_time
from convoflow.exporters.context import DEFAULT_URL_TEMPLATE
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import ExportRequest
from convoflow.streams.replica import CONTACT_COPY_DIR
from convoflow.streams.scan_process import CONTACTS, read_part, read_runs, scan
from convoflow.streams.state.checkpoint import checkpoint

def job(report: str, date_from: str, date_to: str) -> dict:
    """The job a worker gives a helper for an export of ``report`` over [date_from, date_to] (UTC, as
    ``bench.run`` exports), as of the end of ``date_to``."""
    as_of = f"{date_to}T23:59:59Z"
    request = ExportRequest(request_id="scan-cost", export_type=report, time_zone="UTC", date_from=date_from,
                            date_to=date_to, as_of=as_of)
    return {"report": report, "request": request.params(), "as_of_us": parse_time(as_of), "directory": {},
            "url_template": DEFAULT_URL_TEMPLATE}


def stores(data: Path, report: str, partition: int) -> list[tuple[str, Path]]:
    """(name, path) of the stores a helper's scan of ``partition`` reads: the report's tables', the contact copy."""
    tables = [(source, data / "v1" / "tables" / f"{source}-{partition}.db") for source in REPORTS[report].sources]
    return [*tables, (CONTACTS, data / CONTACT_COPY_DIR)]


def checkpoints(data: Path, report: str, partition: int, into: Path) -> None:
    """The report's stores of ``partition`` and the contact copy, checkpointed into ``into``."""
    for name, path in stores(data, report, partition):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            checkpoint(db, str(into / name))
        finally:
            db.close()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scan_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", required=True, type=Path)
    p.add_argument("--report", default="conversations_resolved", choices=sorted(REPORTS))
    p.add_argument("--partition", type=int, default=0)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--date-from", default="2024-07-01")
    p.add_argument("--date-to", default="2024-08-06")
    args = p.parse_args(argv)
    missing = [str(path) for _, path in stores(args.work_dir / "worker-data", args.report, args.partition)
               if not path.is_dir()]
    if missing:
        p.error(f"no store at {missing[0]} (--work-dir is a kept bench.run work dir)")
    into = Path(tempfile.mkdtemp(prefix="scan-cost-"))
    try:
        checkpoints(args.work_dir / "worker-data", args.report, args.partition, into)
        for _ in range(args.runs):
            started = time.perf_counter()
            runs = scan(job(args.report, args.date_from, args.date_to), str(into))
            elapsed = time.perf_counter() - started
            out = read_part(runs) if REPORTS[args.report].aggregate else list(read_runs(runs))
            print(f"{args.report} partition {args.partition}: {len(out):,} "
                  f"{'groups' if REPORTS[args.report].aggregate else 'rows'} in {elapsed * 1000:.1f} ms")
            for _, path in runs:
                os.remove(path)
    finally:
        shutil.rmtree(into, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
