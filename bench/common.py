"""What every benchmark shares: logging, the machine and code under test, the worker's memory and CPU,
py-spy, and the PASS/MISS verdicts."""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def code_version() -> dict:
    """The commit of the tree under test, and its uncommitted files (figures are of that code)."""
    def git(*argv):
        try:
            return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD").strip() or None
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] and not line[3:].startswith("bench/")]
    return {"root": str(ROOT), "commit": commit, "uncommitted": dirty}


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu"] = m.group(1).strip() if m else None
    except OSError:
        pass
    try:
        m = re.search(r"<kafka.version>(.*?)</kafka.version>", (ROOT / "kafka" / "pom.xml").read_text())
        info["kafka"] = m.group(1) if m else None
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("faust-streaming", "aiokafka", "rocksdict", "orjson", "quixstreams", "confluent-kafka"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = None
    return info


class RssSampler:
    """Peak resident memory of whichever process it watches, with its child processes, sampled on a thread."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.psutil = psutil
        self.interval = interval
        self.proc = None
        self.peak = 0
        self.samples = 0
        self.current = None
        self.phases: dict[str, int] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def watch(self, pid: int | None) -> None:
        self.proc = self.psutil.Process(pid) if pid else None

    def phase(self, name: str) -> None:
        """Attribute the samples from now on to `name` (peaks per phase, besides the overall peak)."""
        self.current = name
        self.phases.setdefault(name, 0)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            proc = self.proc
            if proc is None:
                continue
            try:
                rss = proc.memory_info().rss
            except self.psutil.Error:
                continue
            try:  # the worker's export scan processes (convoflow.streams.scan_process) count as the worker's
                children = proc.children(recursive=True)
            except self.psutil.Error:
                children = []
            for child in children:
                try:
                    rss += child.memory_info().rss
                except self.psutil.Error:
                    pass
            self.samples += 1
            self.peak = max(self.peak, rss)
            if self.current is not None:
                self.phases[self.current] = max(self.phases[self.current], rss)

    def stop(self) -> None:
        self.stopped.set()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    def phase_peaks_mb(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.phases.items()}


def cpu_snapshot(pid: int) -> tuple:
    import psutil

    t = psutil.Process(pid).cpu_times()
    system = psutil.cpu_times()
    return time.monotonic(), t.user + t.system, sum(system) - system.idle - getattr(system, "iowait", 0)


def cpu_usage(before: tuple, after: tuple, phase: str) -> dict:
    """The worker's CPU (100 = one core busy) and the whole machine's (100 = every core) over a phase."""
    wall = max(after[0] - before[0], 1e-9)
    cores = os.cpu_count() or 1
    return {f"{phase}_worker_cpu_pct": round(100 * (after[1] - before[1]) / wall, 1),
            f"{phase}_machine_cpu_pct": round(100 * (after[2] - before[2]) / wall / cores, 1)}


def start_profiler(pid: int, out_dir: Path, name: str = "ingest") -> subprocess.Popen:
    """py-spy record (collapsed stacks, so that bench.profile can rank them) of the worker during a phase."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--nonblocking", "--threads",
           "-o", str(out_dir / f"{name}.folded")]
    log(f"profiling the worker (pid {pid}) -> {out_dir / f'{name}.folded'}")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(out_dir / "py-spy.log", "ab"))


def stop_profiler(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


def verdict(name: str, value, targets: dict) -> str:
    """PASS or MISS of figure `name` against ``targets`` ({name: (">=" or "<=", target)}); "" without a target."""
    if name not in targets:
        return ""
    op, target = targets[name]
    if value is None:
        return f"MISS (target {op} {target:,}; not measured)"
    ok = value >= target if op == ">=" else value <= target
    if ok:
        return f"PASS (target {op} {target:,})"
    miss = (target / value if op == ">=" and value else value / target) if value else float("inf")
    return f"MISS (target {op} {target:,}; {miss:.1f}x off)"


def print_figures(fig: dict, order: tuple, targets: dict, extra=None) -> None:
    """One ``name: value`` line per figure, those of ``order`` first, with the verdict beside it."""
    names = [n for n in order if n in fig] + sorted(n for n in fig if n not in order)
    for name in names:
        value = fig[name]
        shown = f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if fig.get(f"{name}_is_lower_bound"):
            shown = f">={shown}"
        said = verdict(name, value, targets) + (extra(name) if extra else "")
        print(f"{name}: {shown}" + (f"  {said}" if said else ""))


def dir_bytes(path: Path) -> int:
    """The bytes of the files under `path` (their sizes, not the blocks they take)."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:  # a file RocksDB removed meanwhile
                pass
    return total


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (``prog: message``) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}\n")


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_results(module: str, sizes: dict, targets: dict, **extra) -> dict:
    """The results file's skeleton: when, the command, the machine and code under test, the sizes and targets."""
    return {"started_at": now_utc(), "command": " ".join([os.path.basename(sys.executable), "-m", module,
                                                          *sys.argv[1:]]),
            "machine": machine(), "code": code_version(), "sizes": sizes, **extra,
            "figures": {}, "notes": {}, "targets": {k: list(v) for k, v in targets.items()}}


def write_results(out: dict, path: str, targets: dict, smoke: bool) -> None:
    """The verdicts added, the results written to `path` as JSON."""
    out["smoke"] = smoke
    out["verdicts"] = {name: verdict(name, out["figures"].get(name), targets).split(" ")[0] for name in targets}
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(out, indent=2) + "\n")
    log(f"wrote {file}")
