"""Machine facts printed beside every benchmark figure."""

import hashlib
import json
import os
import platform
import sys
import time


def machine_summary(database_version: str = "") -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
            memory = f", {total_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    parts = [
        f"{cpu}, {os.cpu_count()} cores{memory}",
        f"{platform.system()} {platform.release()}",
        f"Python {sys.version.split()[0]}",
    ]
    if database_version:
        parts.append(database_version)
    return " | ".join(parts)


def host_pace() -> str:
    """Milliseconds a fixed single-core workload (Python loops, JSON, SHA-256) takes,
    best of three. On a shared host the same code and data ran a fifth slower at some
    hours than at others; printed beside the figures, this tells such hours apart."""
    document = {"id": "doc-7", "text": "브로커 URL을 확인하세요: CELERY_BROKER_URL.", "score": 0.83}
    data = b"x" * (16 * 1024 * 1024)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(300_000):
            total += number * number % 7
        for _ in range(20_000):
            json.loads(json.dumps(document))
        hashlib.sha256(data).digest()
        best = min(best, time.perf_counter() - started)
    return f"host pace {best * 1000:.0f} ms (a fixed single-core workload; lower is faster)"
