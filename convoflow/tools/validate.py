"""``convoflow validate FILE`` and ``convoflow publish --dry-run``: check JSON lines offline, no broker.

``validate`` applies the worker's own checks (``events.parse_record``) to every line, so a
line it rejects is one the worker would send to ``dead-letters``, with the same reason.
``publish --dry-run`` reads and routes the lines as ``publish`` does (``publish.read_lines``)
and says what would be published on which topic, what would be refused locally, and which
of the published lines the worker would reject.

A line is taken as ``publish`` sends it: without its line end and without a UTF-8
byte-order mark; blank lines are skipped but counted, so line numbers are the file's.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

import orjson

from convoflow.args import UsageError
from convoflow.contract.events import TOPICS, TYPE_TOPIC, Rejected, parse_record
from convoflow.tools.publish import UTF8_BOM, Input, InputError, read_lines


@dataclass
class Report:
    lines: int = 0
    valid: Counter = field(default_factory=Counter)  # event type -> valid lines
    invalid: Counter = field(default_factory=Counter)  # event type (or "(no type)") -> rejected lines
    rejected: list = field(default_factory=list)  # (line number, reason)
    per_topic: Counter = field(default_factory=Counter)  # dry run: logical topic -> lines that would be sent
    not_published: list = field(default_factory=list)  # dry run: (line number, reason publish gives)


def check(value: bytes) -> dict:
    """The normalised event of one record value, or ``Rejected`` with the reason the worker would give.

    The topic is the one its type is published on; without a known type any topic gives the same
    reason, as the checks before and of ``type`` do not depend on it."""
    try:
        etype = orjson.loads(value).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        etype = None
    topic = TYPE_TOPIC.get(etype, TOPICS[0]) if isinstance(etype, str) else TOPICS[0]
    return parse_record(topic, value)


def _type_of(value: bytes) -> str:
    """The line's event type for the counts: its type, or "(unknown type)" / "(no type)"."""
    try:
        etype = orjson.loads(value).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        return "(no type)"
    if not isinstance(etype, str):
        return "(no type)"
    return etype if etype in TYPE_TOPIC else "(unknown type)"


def _record(line: bytes) -> bytes | None:
    line = line.rstrip(b"\r\n")
    if line.startswith(UTF8_BOM):
        line = line[len(UTF8_BOM):]
    return line if line.strip() else None


def _contract(report: Report, line_no: int, value: bytes) -> None:
    try:
        event = check(value)
    except Rejected as exc:
        report.rejected.append((line_no, exc.reason))
        report.invalid[_type_of(value)] += 1
    else:
        report.valid[event["type"]] += 1


def validate_lines(lines) -> Report:
    """Check every line of an iterable of bytes lines (a file, or a ``publish.Input``)."""
    report = Report()
    for line_no, line in enumerate(lines, 1):
        report.lines = line_no
        value = _record(line)
        if value is not None:
            _contract(report, line_no, value)
    return report


def dry_run(lines) -> Report:
    """What ``publish`` would do with the lines, and what the worker would then reject."""
    report = Report()

    def counted():
        for line in lines:
            report.lines += 1
            yield line

    for item in read_lines(counted()):
        if len(item) == 2:
            report.not_published.append(item)
            continue
        line_no, topic, _key, value = item
        report.per_topic[topic] += 1
        _contract(report, line_no, value)
    return report


def print_counts(report: Report, out) -> None:
    """One line per event type: valid lines, and rejected ones when there are any."""
    for etype in sorted(set(report.valid) | set(report.invalid)):
        bad = report.invalid.get(etype, 0)
        print(f"{etype}: {report.valid.get(etype, 0)} valid" + (f", {bad} rejected" if bad else ""), file=out)


def _listed(items, limit: int | None, template: str, out) -> None:
    shown = items if limit is None else items[:limit]
    for line_no, reason in shown:
        print(template.format(line_no=line_no, reason=reason), file=out)
    if len(items) > len(shown):
        print(f"... and {len(items) - len(shown)} more", file=out)


def _read(path: str, run) -> Report:
    try:
        with Input(path) as stream:
            return run(stream)
    except InputError as exc:
        raise UsageError(str(exc)) from None


def cmd_validate(args) -> int:
    """``convoflow validate FILE``: exit 0 when every line is valid, 1 when one is rejected."""
    report = _read(args.file, validate_lines)
    _listed(report.rejected, args.show_rejected, "line {line_no}: {reason}", sys.stdout)
    print_counts(report, sys.stdout)
    valid = sum(report.valid.values())
    print(f"{valid} valid, {len(report.rejected)} rejected ({report.lines} lines)")
    return 1 if report.rejected else 0


def cmd_dry_run(args, settings) -> int:
    """``convoflow publish --dry-run FILE``: what ``publish`` would send, refuse, and the worker reject."""
    report = _read(args.file, dry_run)
    for topic, n in sorted(report.per_topic.items()):
        print(f"{settings.topic(topic)}: {n}")
    _listed(report.not_published, args.show_rejected, "line {line_no}: not published: {reason}", sys.stderr)
    _listed(report.rejected, args.show_rejected, "line {line_no}: the worker would reject it: {reason}", sys.stderr)
    published = sum(report.per_topic.values())
    print(f"dry run: would publish {published}, rejected locally {len(report.not_published)}, "
          f"of the published the worker would reject {len(report.rejected)} ({report.lines} lines; nothing was sent)")
    return 1 if args.strict and (report.not_published or report.rejected) else 0
