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


from convoflow.config import SETTINGS, ConfigError, Settings


def _env(var: str) -> dict:
    """An option's default: the setting ``var`` (read and checked by ``Settings``, so that a bad value
    in the environment is reported by main() and never stops ``--help``); its type checks a given value."""
    s = SETTINGS[var]

    def checked(raw: str):
        try:
            return s.kind(raw)
        except (ValueError, TypeError, OverflowError):
            raise argparse.ArgumentTypeError(f"{raw!r} is not valid: expected {s.kind.expected}") from None

    return {"default": None, "type": checked, "metavar": var.removeprefix("CONVOFLOW_")}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", **_env("CONVOFLOW_BROKER"),
                   help="Kafka broker URL (env CONVOFLOW_BROKER; default kafka://127.0.0.1:9092)")
    p.add_argument("--topic-prefix", **_env("CONVOFLOW_TOPIC_PREFIX"),
                   help="prefix of every topic, so that deployments can share a broker (env CONVOFLOW_TOPIC_PREFIX)")
    p.add_argument("--partitions", **_env("CONVOFLOW_PARTITIONS"),
                   help="partitions of every topic created (env CONVOFLOW_PARTITIONS; default 4)")


def _settings(args, **extra) -> Settings:
    """The settings of the environment, with the options given on the command line."""
    given = dict(broker=args.broker, topic_prefix=args.topic_prefix, partitions=args.partitions, **extra)
    return Settings(**{k: v for k, v in given.items() if v is not None})


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

    settings = _settings(args, web_url=args.web_url)
    result = asyncio.run(request_export(settings, request, args.timeout, progress))
    if result["status"] != "completed":
        print(f"export failed: {result.get('error')}", file=sys.stderr)
        return 1
    out = args.out or f"{request['request_id']}.csv"
    if os.path.isfile(result["file"]):
        if os.path.abspath(result["file"]) != os.path.abspath(out):
            shutil.copyfile(result["file"], out)
    else:
        url = f"{settings.web_url.rstrip('/')}/exports/{request['request_id']}.csv"
        with urllib.request.urlopen(url, timeout=args.timeout) as resp, open(out, "wb") as f:
            shutil.copyfileobj(resp, f)
    print(f"{result['rows']} rows -> {out}")
    return 0


def cmd_simulate(args) -> int:
    from convoflow import simulate

    settings = _settings(args)  # checked even when only writing a file
    events = simulate.generate(seed=args.seed, agents=args.agents, conversations=args.conversations, days=args.days,
                               start=args.start)
    if args.duplicates or args.disorder:
        events = simulate.disorder(events, seed=args.seed, duplicate_rate=args.duplicates, window=args.disorder)
    if args.publish:
        from convoflow.publish import publish_events

        summary = asyncio.run(publish_events(settings, events))
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
    p.add_argument("--data-dir", **_env("CONVOFLOW_DATA_DIR"), help="local state (RocksDB)")
    p.add_argument("--export-dir", **_env("CONVOFLOW_EXPORT_DIR"), help="where CSV files go")
    p.add_argument("--web-port", **_env("CONVOFLOW_WEB_PORT"))
    p.add_argument("--web-host", **_env("CONVOFLOW_WEB_HOST"))
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
    p.add_argument("--web-url", **_env("CONVOFLOW_WEB_URL"),
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
    p.set_defaults(func=cmd_simulate)

    args = parser.parse_args(argv)
    from aiokafka.errors import KafkaConnectionError

    from convoflow.topics import BrokerUnreachable

    try:
        return args.func(args)
    except BrokerUnreachable as exc:  # says where and how it tried
        print(f"convoflow: {exc}", file=sys.stderr)
        return 2
    except KafkaConnectionError as exc:
        settings = _settings(args)
        print(f"convoflow: cannot connect to Kafka at {settings.broker} ({settings.describe_connection()}): {exc}",
              file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"convoflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
