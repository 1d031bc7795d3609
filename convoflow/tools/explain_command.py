"""``convoflow explain``: the conversations that make one cell of an export, asked of a worker over HTTP."""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


def add_parser(sub) -> None:
    from convoflow.args import add_report_window, env_option, positive

    p = sub.add_parser("explain", help="list the conversations that make one cell of an export, and its total",
                       description="Ask a worker which conversations make one cell of an aggregate export "
                                   "(agent_metrics, teams, topics, tags, virtual_agents, contacts), each with its "
                                   "contribution, and the total, which is that cell.")
    p.add_argument("--type", required=True, metavar="TYPE",
                   help="aggregate report: agent_metrics, teams, topics, tags, virtual_agents or contacts")
    add_report_window(p)
    p.add_argument("--row", required=True, metavar="ID",
                   help="the row's ID as the export writes it (User ID, Team ID, Topic ID, Tag ID, Agent ID of a "
                        "virtual agent, Contact Profile ID)")
    p.add_argument("--row-channel", metavar="ID",
                   help="topics, tags, virtual agents: the channel id of the row ('' = no channel; default: the "
                        "row's only channel)")
    p.add_argument("--column", required=True, metavar="HEADER", help="the column header, e.g. 'Handle Time (s)'")
    p.add_argument("--out", metavar="PATH", help="also write the explanation as CSV here (default: none)")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON (what GET /explain returns)")
    p.add_argument("--timeout", type=positive, default=600.0, metavar="SECONDS",
                   help="give up when the worker has not answered after this long (default: %(default)g)")
    env_option(p, "--web-url", "CONVOFLOW_WEB_URL", metavar="URL",
               help="any worker's web address")
    p.set_defaults(func=run)


def query(args) -> dict:
    """The query of GET /explain; BadRequest (with the reason) when the arguments are not a cell."""
    import orjson

    from convoflow.exporters.explain import parse_cell
    from convoflow.exporters.request import parse_request

    request = {"request_id": f"cli-{uuid.uuid4().hex[:16]}", "export_type": args.type, "time_zone": args.tz,
               "date_from": args.date_from, "date_to": args.date_to, "channels": args.channel or []}
    if args.as_of:
        request["as_of"] = args.as_of
    parse_request(orjson.dumps(request))
    parse_cell(args.type, args.row, args.column, args.row_channel)
    params = {"type": args.type, "tz": args.tz, "from": args.date_from, "to": args.date_to, "row": args.row,
              "column": args.column, "channel": args.channel or []}
    if args.as_of:
        params["as_of"] = args.as_of
    if args.row_channel is not None:
        params["row_channel"] = args.row_channel
    return params


def fetch(web_url: str, params: dict, timeout: float) -> dict:
    url = f"{web_url.rstrip('/')}/explain?{urllib.parse.urlencode(params, doseq=True)}"
    token = os.environ.get("CONVOFLOW_API_TOKEN", "")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            reason = exc.reason
        raise RuntimeError(reason) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"cannot reach a worker at {web_url}: {reason}") from None


def run(args) -> int:
    from convoflow.args import fail
    from convoflow.exporters import csvfile
    from convoflow.exporters.explain import CSV_HEADER, csv_rows
    from convoflow.exporters.request import BadRequest

    try:
        params = query(args)
    except BadRequest as exc:
        return fail(exc.reason)
    try:
        explanation = fetch(args.web_url, params, args.timeout)
    except RuntimeError as exc:
        return fail(f"explain failed: {exc}", status=1)
    if args.json:
        print(json.dumps(explanation, indent=2, ensure_ascii=False))
    if args.out:
        count = csvfile.write(args.out, CSV_HEADER, csv_rows(explanation))
        print(f"{count - 1} lines and the total -> {args.out}", file=sys.stderr if args.json else sys.stdout)
    if not args.json and not args.out:
        print_table(explanation, sys.stdout)
    return 0


def print_table(explanation: dict, out) -> None:
    from convoflow.exporters.explain import CSV_HEADER, csv_rows

    rows = [CSV_HEADER] + csv_rows(explanation)
    average = explanation["kind"] == "average"
    keep = [i for i in range(len(CSV_HEADER)) if average or CSV_HEADER[i] not in ("Numerator", "Denominator")]
    rows = [[row[i] for i in keep] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(keep) - 1)]
    title = f"{explanation['column']} of {explanation['export_type']} {explanation['row']}"
    if "row_channel" in explanation:
        title += f" (channel {explanation['row_channel'] or 'none'})"
    print(f"{title}, {explanation['from']} to {explanation['to']} ({explanation['time_zone']}):", file=out)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1], file=out)

