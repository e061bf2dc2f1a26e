"""One line naming the machine a benchmark ran on, for the figures in docs/benchmarks.md.

Timings differ by 2x between the VMs this project runs on (the same "AMD EPYC" name
covers several generations), so the CPU family and model go into every report.
"""
from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The CPU's model name with its family/model numbers where /proc/cpuinfo has them."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = fields.get("model name", platform.processor() or "unknown CPU")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def describe() -> str:
    """E.g. 'x86_64, AMD EPYC (family 25, model 17), 2 cores, Python 3.11.7'."""
    return (f"{platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


if __name__ == "__main__":
    print(describe())
