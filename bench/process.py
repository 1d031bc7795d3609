"""A ``convoflow worker`` as a child process: start it, wait for ``/health``, ask it over HTTP, stop it.

The benchmark (``bench/``) and the integration tests (``tests/integration/harness.py``) both
run workers this way. Standard library only, so that the tests import it without the bench's
own dependencies.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, kill: bool = False, timeout: float = 30) -> None:
    """SIGTERM (or SIGKILL) a child process, and SIGKILL it when it has not ended after ``timeout`` s."""
    if proc and proc.poll() is None:
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class WorkerProcess:
    """One ``python -m convoflow.cli worker`` on a port of its own, its output appended to ``log_path``.

    ``env`` is the whole environment of the process (default: this one's); ``token`` is sent as a
    bearer token with every request. ``log_path`` can be changed between two starts.
    """

    def __init__(self, *, broker: str, topic_prefix: str, partitions: int, data_dir: Path, export_dir: Path,
                 log_path: Path, cwd: Path, env: dict | None = None, token: str | None = None):
        self.broker, self.topic_prefix, self.partitions = broker, topic_prefix, partitions
        self.data_dir, self.export_dir, self.log_path, self.cwd = Path(data_dir), Path(export_dir), Path(log_path), cwd
        self.env = env
        self.token = token
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "convoflow.cli", "worker", "--broker", self.broker,
                "--topic-prefix", self.topic_prefix, "--partitions", str(self.partitions),
                "--data-dir", str(self.data_dir), "--export-dir", str(self.export_dir), "--web-port", str(self.port)]

    def start(self) -> float:
        """Start the process (without waiting for it); returns its start time (``time.time()``)."""
        self.log = open(self.log_path, "ab")
        started = time.time()
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, cwd=str(self.cwd),
                                     env=self.env if self.env is not None else dict(os.environ))
        return started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_health(self, timeout: float = 120, interval: float = 0.05) -> float:
        """Until ``/health`` answers 200; returns that time (``time.time()``). Raises with the log's
        tail when the process ends or does not answer within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.fetch("/health", timeout=1)[0] == 200:
                    return time.time()
            except OSError:
                pass
            time.sleep(interval)
        raise RuntimeError(f"worker did not answer on /health within {timeout:.0f} s:\n{self.tail()}")

    def http_request(self, path: str, method: str = "GET") -> urllib.request.Request:
        """A request to this worker, with the bearer token when there is one."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        return req

    def fetch(self, path: str, method: str = "GET", timeout: float = 10) -> tuple[int, bytes, str]:
        """(status, body, content type) of one request; an HTTP error status is an answer, not an exception."""
        try:
            with urllib.request.urlopen(self.http_request(path, method), timeout=timeout) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        status, body, _ = self.fetch(path, timeout=timeout)
        return status, body

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def terminate(self) -> None:
        if self.running():
            self.proc.terminate()

    def stop(self, kill: bool = False, timeout: float = 30) -> None:
        stop_process(self.proc, kill, timeout)
        if self.log is not None:
            self.log.close()
