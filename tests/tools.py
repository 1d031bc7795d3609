"""Running a system tool from a test (apt-get, pip, promtool): whether it worked, and the end of what it said."""
from __future__ import annotations

import os
import subprocess


def run_tool(cmd: list[str], timeout: float, tail: int = 3000) -> tuple[bool, str]:
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stdout.decode(errors="replace")[-tail:]
