"""The ``convoflow`` command: worker, publish, export, simulate."""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import urllib.request
import uuid


from convoflow.config import Settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", default=os.environ.get("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092"),
                   help="Kafka broker URL (env CONVOFLOW_BROKER; default %(default)s)")
    p.add_argument("--topic-prefix", default=os.environ.get("CONVOFLOW_TOPIC_PREFIX", ""),
                   help="prefix of every topic, so that deployments can share a broker (env CONVOFLOW_TOPIC_PREFIX)")
    p.add_argument("--partitions", type=int, default=int(os.environ.get("CONVOFLOW_PARTITIONS", "4")),
                   help="partitions of every topic created (env CONVOFLOW_PARTITIONS; default %(default)s)")


def _settings(args, **extra) -> Settings:
    return Settings(broker=args.broker, topic_prefix=args.topic_prefix, partitions=args.partitions, **extra)


def cmd_worker(args) -> int:
    from convoflow.app import run_worker

    run_worker(_settings(args, data_dir=args.data_dir, export_dir=args.export_dir, web_port=args.web_port, web_host=args.web_host),
               loglevel=args.loglevel)
    return 0


def cmd_publish(args) -> int:
    from convoflow.publish import Input, InputError, Progress, publish_lines

    started = time.monotonic()
    try:
        with Input(args.file) as stream:
            progress = None if args.quiet else Progress(stream.total)
            summary = asyncio.run(publish_lines(_settings(args), stream, progress))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: what was sent before is published", file=sys.stderr)
        return 130
    except Exception as exc:  # a broker error while publishing: one line, no traceback
        from aiokafka.errors import KafkaConnectionError

        from convoflow.config import ConfigError

        if isinstance(exc, (KafkaConnectionError, ConfigError)):
            raise  # main() says it, like for every command
        print(f"error: publishing failed: {exc or exc.__class__.__name__}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    for topic, n in sorted(summary.per_topic.items()):
        print(f"{topic}: {n}")
    shown = summary.rejected[: args.show_rejected]
    for line_no, reason in shown:
        print(f"line {line_no}: not published: {reason}", file=sys.stderr)
    if len(summary.rejected) > len(shown):
        print(f"... and {len(summary.rejected) - len(shown)} more rejected lines", file=sys.stderr)
    print(f"published {summary.published}, rejected locally {len(summary.rejected)} "
          f"({summary.lines} lines, {summary.bytes_read / 1e6:.1f} MB in {seconds:.1f} s)")
    if summary.error:
        print(f"error: {summary.error}; the lines before it are published", file=sys.stderr)
        return 1
    return 1 if summary.rejected and args.strict else 0


def cmd_export(args) -> int:
    from convoflow.publish import request_export

    request = {
        "request_id": args.request_id or f"cli-{uuid.uuid4().hex[:16]}",
        "export_type": args.type, "time_zone": args.tz, "date_from": args.date_from, "date_to": args.date_to,
    }
    if args.channel:
        request["channels"] = args.channel
    if args.as_of:
        request["as_of"] = args.as_of
    started = time.monotonic()

    def progress(result):
        print(f"{result['request_id']}: {result['status']} ({time.monotonic() - started:.1f} s)", file=sys.stderr)

    result = asyncio.run(request_export(_settings(args), request, args.timeout, progress))
    if result["status"] != "completed":
        print(f"export failed: {result.get('error')}", file=sys.stderr)
        return 1
    out = args.out or f"{request['request_id']}.csv"
    if os.path.isfile(result["file"]):
        if os.path.abspath(result["file"]) != os.path.abspath(out):
            shutil.copyfile(result["file"], out)
    else:
        url = f"{args.web_url.rstrip('/')}/exports/{request['request_id']}.csv"
        with urllib.request.urlopen(url, timeout=args.timeout) as resp, open(out, "wb") as f:
            shutil.copyfileobj(resp, f)
    print(f"{result['rows']} rows -> {out}")
    return 0


def cmd_simulate(args) -> int:
    from convoflow import simulate

    if args.live:
        from convoflow import live

        return live.main(_settings(args), seed=args.seed, rate=args.rate, backfill=args.backfill, agents=args.agents)

    events = simulate.generate(seed=args.seed, agents=args.agents, conversations=args.conversations, days=args.days,
                               start=args.start)
    if args.duplicates or args.disorder:
        events = simulate.disorder(events, seed=args.seed, duplicate_rate=args.duplicates, window=args.disorder)
    if args.publish:
        from convoflow.publish import publish_events

        summary = asyncio.run(publish_events(_settings(args), events))
        print(f"published {summary.published} events: " + ", ".join(f"{t} {n}" for t, n in sorted(summary.per_topic.items())))
        return 0
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    with out:
        for line in simulate.iter_jsonl(events):
            out.write(line)
    if args.out != "-":
        print(f"wrote {len(events)} events to {args.out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="convoflow", description="Streaming analytics for customer-service messaging.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run a worker (Faust agents, tables, exports, web)")
    _common(p)
    p.add_argument("--data-dir", default=os.environ.get("CONVOFLOW_DATA_DIR", "data"), help="local state (RocksDB)")
    p.add_argument("--export-dir", default=os.environ.get("CONVOFLOW_EXPORT_DIR", "exports"), help="where CSV files go")
    p.add_argument("--web-port", type=int, default=int(os.environ.get("CONVOFLOW_WEB_PORT", "6066")))
    p.add_argument("--web-host", default=os.environ.get("CONVOFLOW_WEB_HOST", "127.0.0.1"))
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish events from a JSON-lines file, plain or gzip'd ('-' for stdin)")
    _common(p)
    p.add_argument("file", help="JSON lines, one event a line; gzip'd input is recognised by its first bytes")
    p.add_argument("--strict", action="store_true", help="exit 1 when a line could not be published")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument("--show-rejected", type=int, default=50, metavar="N",
                   help="list at most N rejected lines (default %(default)s)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("export", help="request an export and write the CSV file")
    _common(p)
    p.add_argument("--type", required=True, help="export type, e.g. conversations_resolved")
    p.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/Amsterdam")
    p.add_argument("--from", dest="date_from", required=True, help="first local date YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="last local date YYYY-MM-DD (included)")
    p.add_argument("--channel", action="append", help="keep this channel id (repeatable)")
    p.add_argument("--as-of", help="RFC 3339 end of ongoing presence intervals (default: now)")
    p.add_argument("--out", help="output path (default REQUEST_ID.csv)")
    p.add_argument("--request-id", help="request id (default: a new one)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--web-url", default=os.environ.get("CONVOFLOW_WEB_URL", "http://127.0.0.1:6066"),
                   help="a worker's web address, to download the file when it is not on this machine")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("simulate", help="generate a simulated contact centre (JSON lines, or publish)")
    _common(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--conversations", type=int, default=500)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--start", default="2024-07-15T00:00:00Z")
    p.add_argument("--duplicates", type=float, default=0.0, help="fraction of events delivered twice")
    p.add_argument("--disorder", type=int, default=0, help="shuffle events within a window of this many")
    p.add_argument("--out", default="-", help="JSON-lines output file (default stdout)")
    p.add_argument("--publish", action="store_true", help="publish to the broker instead of writing a file")
    p.add_argument("--live", action="store_true",
                   help="publish a contact centre in real time, with current timestamps, until stopped")
    p.add_argument("--rate", type=float, default=120.0, metavar="N",
                   help="with --live: new conversations per hour, on average (default %(default)g)")
    p.add_argument("--backfill", type=int, default=0, metavar="DAYS",
                   help="with --live: also publish the DAYS whole days before today at once (default %(default)s)")
    p.set_defaults(func=cmd_simulate)

    args = parser.parse_args(argv)
    from aiokafka.errors import KafkaConnectionError

    from convoflow.config import ConfigError

    try:
        return args.func(args)
    except KafkaConnectionError as exc:
        protocol = os.environ.get("CONVOFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
        print(f"convoflow: cannot connect to Kafka at {args.broker} (security protocol {protocol}): {exc}",
              file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"convoflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
