"""The ``convoflow`` command: worker, publish, export, explain, simulate, validate, schema.

Bad input never ends in a traceback: a bad argument, a bad environment default of an
option, an unusable path or an export request the worker would refuse is one line
``convoflow: error: ...`` on stderr and exit status 2 (``convoflow.args``).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import time
import urllib.request
import uuid

from convoflow.args import (EXPORT_TYPES_HELP, LOGLEVELS, Parser, UsageError, add_report_window, broker_url, env_option,
                            fail, fraction, positive, resolve_env_defaults, topic_prefix, version, whole, writable_dir,
                            writable_file)
from convoflow.contract.config import ConfigError, Settings


def _common(p: argparse.ArgumentParser) -> None:
    env_option(p, "--broker", "CONVOFLOW_BROKER", type=broker_url, metavar="URL",
               help="Kafka broker URL")
    env_option(p, "--topic-prefix", "CONVOFLOW_TOPIC_PREFIX", type=topic_prefix, metavar="PREFIX",
               help="prefix of every topic (and of the consumer group), so that deployments can share a broker")
    env_option(p, "--partitions", "CONVOFLOW_PARTITIONS", type=whole(1), metavar="N",
               help="partitions of the topics convoflow creates")


def _settings(args, **extra) -> Settings:
    """The settings of the environment, with the options given on the command line."""
    given = dict(broker=args.broker, topic_prefix=args.topic_prefix, partitions=args.partitions, **extra)
    return Settings(**{k: v for k, v in given.items() if v is not None})


def cmd_worker(args) -> int:
    writable_dir(args.data_dir, "--data-dir")
    writable_dir(args.export_dir, "--export-dir")
    from convoflow.app import run_worker

    run_worker(_settings(args, data_dir=args.data_dir, export_dir=args.export_dir, web_port=args.web_port, web_host=args.web_host),
               loglevel=args.loglevel)
    return 0


def cmd_publish(args) -> int:
    from convoflow.tools.publish import Input, InputError, Progress, publish_lines

    if args.dry_run:
        from convoflow.tools.validate import cmd_dry_run

        return cmd_dry_run(args, _settings(args))
    started = time.monotonic()
    try:
        with Input(args.file) as stream:
            progress = None if args.quiet else Progress(stream.total)
            summary = asyncio.run(publish_lines(_settings(args), stream, progress))
    except InputError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        print("\nconvoflow: interrupted: what was sent before is published", file=sys.stderr)
        return 130
    except Exception as exc:  # a broker error while publishing: one line, no traceback
        from aiokafka.errors import KafkaConnectionError

        if isinstance(exc, (KafkaConnectionError, ConfigError)):
            raise  # main() says it, like for every command
        return fail(f"publishing failed: {exc or exc.__class__.__name__}", status=1)
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
        return fail(f"{summary.error}; the lines before it are published", status=1)
    return 1 if summary.rejected and args.strict else 0


def cmd_export(args) -> int:
    from convoflow.tools.publish import NoWorker, request_export

    request = _export_request(args)
    out = args.out or f"{request['request_id']}.csv"
    writable_file(out, "--out")
    started = time.monotonic()

    def progress(result):
        print(f"{result['request_id']}: {result['status']} ({time.monotonic() - started:.1f} s)", file=sys.stderr)

    settings = _settings(args, web_url=args.web_url)
    try:
        result = asyncio.run(request_export(settings, request, args.timeout, progress,
                                            no_worker_timeout=args.no_worker_timeout))
    except NoWorker as exc:
        return fail(str(exc), status=1)
    if result["status"] != "completed":
        return fail(f"export failed: {result.get('error')}", status=1)
    if os.path.isfile(result["file"]):
        if os.path.abspath(result["file"]) != os.path.abspath(out):
            shutil.copyfile(result["file"], out)
    else:
        url = f"{settings.web_url.rstrip('/')}/exports/{request['request_id']}.csv"
        try:
            with urllib.request.urlopen(url, timeout=args.timeout) as resp, open(out, "wb") as f:
                shutil.copyfileobj(resp, f)
        except OSError as exc:  # URLError and HTTPError are OSErrors
            return fail(f"the export completed but {url} could not be downloaded: {exc}", status=1)
    print(f"{result['rows']} rows -> {out}")
    return 0


def _export_request(args) -> dict:
    """The request as the worker will read it, checked here first with the worker's own rules (exit 2)."""
    import orjson

    from convoflow.exporters.request import BadRequest, parse_request

    request = {
        "request_id": args.request_id if args.request_id is not None else f"cli-{uuid.uuid4().hex[:16]}",
        "export_type": args.type, "time_zone": args.tz, "date_from": args.date_from, "date_to": args.date_to,
    }
    if args.channel:
        request["channels"] = args.channel
    if args.as_of is not None:
        request["as_of"] = args.as_of
    try:
        parse_request(orjson.dumps(request))
    except BadRequest as exc:
        raise UsageError(exc.reason) from None
    return request


def cmd_simulate(args) -> int:
    from convoflow.tools import simulate

    settings = _settings(args)  # checked even when only writing a file
    if args.live:
        from convoflow.tools import live

        return live.main(settings, seed=args.seed, rate=args.rate, backfill=args.backfill, agents=args.agents)

    try:
        simulate.check_start(args.start, args.days)
    except ValueError as exc:
        raise UsageError(f"argument --start: {exc}") from None
    out = None
    if not args.publish:
        out = sys.stdout.buffer if args.out == "-" else writable_file(args.out, "--out", keep_open=True)
    events = simulate.generate(seed=args.seed, agents=args.agents, conversations=args.conversations, days=args.days,
                               start=args.start)
    if args.duplicates or args.disorder:
        events = simulate.disorder(events, seed=args.seed, duplicate_rate=args.duplicates, window=args.disorder)
    if args.publish:
        from convoflow.tools.publish import publish_events

        summary = asyncio.run(publish_events(settings, events))
        print(f"published {summary.published} events: " + ", ".join(f"{t} {n}" for t, n in sorted(summary.per_topic.items())))
        return 0
    try:
        for line in simulate.iter_jsonl(events):
            out.write(line)
        out.flush()
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if args.out != "-":
        print(f"wrote {len(events)} events to {args.out}", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    from convoflow.tools.validate import cmd_validate as run

    return run(args)


def cmd_schema(args) -> int:
    from convoflow.contract import schema

    try:
        sys.stdout.write(schema.text(args.type or schema.ANY_EVENT))
    except schema.UnknownType as exc:
        raise UsageError(str(exc)) from None
    return 0


def build_parser() -> Parser:
    parser = Parser(prog="convoflow", description="Streaming analytics for customer-service messaging.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("worker", help="run a worker (Faust agents, tables, exports, web)",
                       description="Run a worker: Faust agents, RocksDB tables, exports and the web server.")
    _common(p)
    env_option(p, "--data-dir", "CONVOFLOW_DATA_DIR", metavar="DIR", help="local state (RocksDB)")
    env_option(p, "--export-dir", "CONVOFLOW_EXPORT_DIR", metavar="DIR", help="where CSV files are written")
    env_option(p, "--web-port", "CONVOFLOW_WEB_PORT", type=whole(1, 65535), metavar="PORT",
               help="HTTP port")
    env_option(p, "--web-host", "CONVOFLOW_WEB_HOST", metavar="HOST",
               help="the host name other workers and clients reach this one by")
    p.add_argument("--loglevel", default="info", choices=LOGLEVELS, help="log level (default: %(default)s)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish events from a JSON-lines file, plain or gzip'd ('-' for stdin)",
                       description="Publish events, one JSON object a line, each to the topic of its type.")
    _common(p)
    p.add_argument("file", help="JSON lines, one event a line, or '-' for stdin; gzip'd input is recognised by its "
                                "first bytes")
    p.add_argument("--strict", action="store_true", help="exit 1 when a line could not be published (with "
                                                         "--dry-run: also when the worker would reject one)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument("--show-rejected", type=whole(0), default=50, metavar="N",
                   help="list at most N rejected lines (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true",
                   help="read and route every line, and check it against the contract, without a broker: "
                        "what would be published per topic, refused locally, or rejected by the worker")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("export", help="request an export and write the CSV file",
                       description="Request an export on the control topic, follow it and write the CSV file. "
                                   "The request is checked here first, with the worker's rules.")
    _common(p)
    p.add_argument("--type", required=True, metavar="TYPE", help=f"export type, one of: {EXPORT_TYPES_HELP}")
    add_report_window(p)
    p.add_argument("--out", metavar="PATH", help="output path (default: REQUEST_ID.csv)")
    p.add_argument("--request-id", metavar="ID",
                   help="request id, 1-64 characters of A-Z a-z 0-9 _ - (default: a new one)")
    p.add_argument("--timeout", type=positive, default=600.0, metavar="SECONDS",
                   help="give up when the export has no final result after this long (default: %(default)g)")
    p.add_argument("--no-worker-timeout", type=positive, default=30.0, metavar="SECONDS",
                   help="give up when no worker has answered the request after this long (default: %(default)g)")
    env_option(p, "--web-url", "CONVOFLOW_WEB_URL", metavar="URL",
               help="a worker's web address, to download the file when it is not on this machine")
    p.set_defaults(func=cmd_export)

    from convoflow.tools import explain_command

    explain_command.add_parser(sub)

    p = sub.add_parser("simulate", help="generate a simulated contact centre (JSON lines, or publish)",
                       description="Generate the events of a simulated contact centre, deterministically.")
    _common(p)
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--agents", type=whole(1), default=20, metavar="N", help="agents (default: %(default)s)")
    p.add_argument("--conversations", type=whole(0), default=500, metavar="N",
                   help="conversations (default: %(default)s)")
    p.add_argument("--days", type=whole(1), default=3, metavar="N", help="days simulated (default: %(default)s)")
    p.add_argument("--start", default="2024-07-15T00:00:00Z", metavar="TIME",
                   help="RFC 3339 start of the first day (default: %(default)s)")
    p.add_argument("--duplicates", type=fraction, default=0.0, metavar="FRACTION",
                   help="fraction of events delivered twice, 0 to 1 (default: %(default)s)")
    p.add_argument("--disorder", type=whole(0), default=0, metavar="N",
                   help="shuffle events within a window of this many (default: %(default)s)")
    p.add_argument("--out", default="-", metavar="PATH", help="JSON-lines output file (default: stdout)")
    p.add_argument("--publish", action="store_true", help="publish to the broker instead of writing a file")
    p.add_argument("--live", action="store_true",
                   help="publish a contact centre in real time, with current timestamps, until stopped")
    p.add_argument("--rate", type=float, default=120.0, metavar="N",
                   help="with --live: new conversations per hour, on average (default %(default)g)")
    p.add_argument("--backfill", type=int, default=0, metavar="DAYS",
                   help="with --live: also publish the DAYS whole days before today at once (default %(default)s)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("validate", help="check a JSON-lines file against the event contract, offline",
                       description="Check every line with the worker's own rules, without a broker: counts per "
                                   "event type, and each rejected line with its number and reason. Exit 1 when "
                                   "a line is rejected.")
    p.add_argument("file", help="JSON lines, one event a line, or '-' for stdin; gzip'd input is recognised by its "
                                "first bytes")
    p.add_argument("--show-rejected", type=whole(0), default=None, metavar="N",
                   help="list at most N rejected lines (default: all)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of an event type, or of any event",
                       description="Print the event contract as JSON Schema (draft 2020-12).")
    p.add_argument("type", nargs="?", metavar="TYPE",
                   help="an event type, e.g. message.created (default: the schema of any event)")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from convoflow.contract.topics import BrokerUnreachable

    if args.command != "worker":
        # The client commands say what went wrong in their one line; aiokafka's own log lines would repeat it.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        resolve_env_defaults(args)
        return args.func(args)
    except UsageError as exc:
        return fail(str(exc))
    except BrokerUnreachable as exc:  # says where and how it tried
        return fail(str(exc))
    except KafkaConnectionError as exc:
        settings = _settings(args)
        return fail(f"cannot connect to Kafka at {settings.broker} ({settings.describe_connection()}): {exc}")
    except ConfigError as exc:
        return fail(str(exc))
    except KafkaError as exc:  # the broker refused something (a topic it cannot create, ...): one line
        return fail(f"Kafka at {args.broker}: {exc}", status=1)
    except KeyboardInterrupt:
        print("\nconvoflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (`convoflow simulate | head`): quietly, like SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # so that the exit's flush fails no more
        return 141


if __name__ == "__main__":
    sys.exit(main())
