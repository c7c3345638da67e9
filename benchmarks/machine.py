"""The machine a benchmark ran on, printed with its figures: a number means little without the CPU that made it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine() -> str:
    """One line: CPU model, cores this process may use, and the load average when the run started."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {cpu_model()}, {usable} usable cores of {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
