"""Command-line plumbing of ``convoflow``: one-line errors, options whose default comes from the
environment, argument types with specific messages, and checks of the paths a command will write.

Every problem with what the user typed (or set in the environment as an option's default) is
reported as one line ``convoflow: error: ...`` on stderr, with exit status 2 and no traceback.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys

from convoflow.contract.config import SETTINGS
from convoflow.contract.export_types import EXPORT_TYPES

PREFIX = "convoflow: error: "
LOGLEVELS = ("critical", "error", "warning", "info", "debug")
EXPORT_TYPES_HELP = ", ".join(EXPORT_TYPES)


class UsageError(Exception):
    """Bad input from the command line (or an option's environment default): one line, exit 2."""


def fail(message: str, status: int = 2) -> int:
    print(PREFIX + message, file=sys.stderr)
    return status


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("convoflow")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line with the common prefix (no usage block), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{PREFIX}{message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------
# Options whose default is an environment variable


class _FromEnv:
    """The default of an option that was not given: resolved (and checked) by ``resolve_env_defaults``."""

    def __init__(self, flag: str, env: str, default: str, convert):
        self.flag, self.env, self.default, self.convert = flag, env, default, convert

    def resolve(self):
        raw = os.environ.get(self.env)
        if raw is None:
            return self.convert(self.default)
        try:
            return self.convert(raw)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise UsageError(f"{self.env}={raw!r} (the default of {self.flag}): {exc}") from None


def env_option(p: argparse.ArgumentParser, flag: str, env: str, type=str, help: str = "", **kwargs) -> None:
    """An option whose default is ``$env``, else the setting's declared default
    (``convoflow.contract.config``), so the command and a worker's settings never differ; its help says both."""
    default = SETTINGS[env].default
    default = default() if callable(default) else default
    shown = default if default else "empty"
    p.add_argument(flag, type=type, default=_FromEnv(flag, env, default, type),
                   help=f"{help} (default: ${env}, else {shown})", **kwargs)


def resolve_env_defaults(args: argparse.Namespace) -> None:
    """Replace every option default still pending by its environment value, checked (UsageError)."""
    for name, value in vars(args).items():
        if isinstance(value, _FromEnv):
            setattr(args, name, value.resolve())


# --------------------------------------------------------------------------
# Argument types: a specific message for a bad value


def whole(least: int, most: int | None = None):
    """A whole number in [least, most]."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            value = None
        if value is None or value < least or (most is not None and value > most):
            span = f"from {least} to {most}" if most is not None else f"of at least {least}"
            raise argparse.ArgumentTypeError(f"must be a whole number {span}, got {text!r}")
        return value

    convert.__name__ = "whole number"
    return convert


_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,200}")


def topic_prefix(text: str) -> str:
    """What Kafka allows in a topic name (the longest name convoflow adds is 34 characters of 249)."""
    if not _TOPIC_PREFIX.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be at most 200 characters of A-Z a-z 0-9 . _ - (it starts Kafka topic names), got {text!r}")
    return text


def broker_url(text: str) -> str:
    """``kafka://host:port``, or several separated by ``,`` or ``;`` (the scheme and the port may be left out)."""
    for server in (s for part in text.split(";") for s in part.split(",")):
        scheme, _, address = server.strip().rpartition("://")
        host, colon, port = address.rpartition(":") if ":" in address else (address, "", "9092")
        if scheme not in ("", "kafka") or not host or not (port.isdigit() and 1 <= int(port) <= 65535):
            raise argparse.ArgumentTypeError(f"{server.strip()!r} is not a broker address such as "
                                             "kafka://127.0.0.1:9092")
    return text


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan  # fails every range check below


def positive(text: str) -> float:
    """A finite number of seconds above 0."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


# --------------------------------------------------------------------------
# Paths a command will write, checked before it starts


def writable_dir(path: str, flag: str) -> str:
    """Create the directory if needed; UsageError when it cannot be created or written."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot create the directory: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: the directory is not writable")
    return path


def writable_file(path: str, flag: str, keep_open: bool = False):
    """Check that a file can be written there (``keep_open``: open it for writing and return it)."""
    if keep_open:
        try:
            return open(path, "wb")
        except OSError as exc:
            raise UsageError(f"{flag} {path}: cannot write: {exc.strerror or exc}") from None
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: cannot write: no directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{flag} {path}: cannot write: permission denied")
    return path


def add_report_window(p: argparse.ArgumentParser) -> None:
    """The options that name what an export covers: zone, dates, channels, as-of (export and explain)."""
    p.add_argument("--tz", required=True, metavar="ZONE", help="IANA time zone, e.g. Europe/Amsterdam")
    p.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first local date YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last local date YYYY-MM-DD (included)")
    p.add_argument("--channel", action="append", metavar="ID",
                   help="keep only this channel id (repeatable; default: every channel)")
    p.add_argument("--as-of", metavar="TIME", help="RFC 3339 end of ongoing presence intervals (default: now)")
