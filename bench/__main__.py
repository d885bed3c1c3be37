"""Every benchmark in one go: `.venv/bin/python -m bench [--size small|default] [--only NAME…]`.

Each runs in a process of its own (`python -m bench.<name>`), one after the other, and prints
its figures beside the baseline it measures in the same run. This collects what they print into
`bench/report.md` and `bench/report.json`, with the commit, the machine (cores, memory) and the
date. `--list` names them without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHMARKS = {
    "intake": "HTTP-intake in de PostgreSQL-outbox en door naar Kafka, naast kaal produceren met aiokafka",
    "caseload": "herbouw naast kaal consumeren en decoderen, versheid onder belasting, live kosten naar "
    "geschiedenislengte",
    "reporting": "feiten laden en responstijd van de rapportages, naast alleen decoderen en DuckDB",
}
# The small sizes finish in minutes on a laptop; the defaults are each benchmark's own.
SIZES: dict[str, dict[str, list[str]]] = {
    "small": {
        "intake": ["--events", "20000"],
        "caseload": [
            "--events",
            "100000",
            "--rates",
            "1000",
            "--seconds",
            "10",
            "--depths",
            "10,100",
            "--depth-entities",
            "10",
            "--depth-rounds",
            "5",
        ],
        "reporting": ["--events", "100000", "--runs", "50", "--kpi-benefits", "2000"],
    },
    "default": {"intake": [], "caseload": [], "reporting": []},
}
HERE = Path(__file__).parent


def machine() -> dict[str, object]:
    memory_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        found = subprocess.run(
            [git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=HERE
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run([git, "diff", "--quiet", "HEAD"], cwd=HERE, check=False).returncode != 0
    return found + ("-dirty" if dirty else "")


def run(name: str, arguments: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", f"bench.{name}", *arguments]
    print(f"== {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent, check=False)
    print(result.stdout, end="", flush=True)
    return {
        "description": BENCHMARKS[name],
        "command": " ".join(["python", *command[1:]]),
        "exit_code": result.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "output": result.stdout.splitlines(),
        "errors": result.stderr.splitlines()[-20:] if result.returncode else [],
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmarkrapport",
        "",
        f"- commit: `{report['commit']}`",
        f"- datum: {report['date']}",
        f"- machine: {json.dumps(report['machine'])}",
        f"- groottes: {report['size']}",
        "",
        "Elke benchmark drukt zijn cijfers af naast een basislijn die in dezelfde run op dezelfde",
        "machine is gemeten; op een gedeelde machine zijn de CPU-seconden per event stabieler dan de",
        "snelheden. De regels onder elke benchmark zijn wat hij zelf afdrukte.",
    ]
    results = report["benchmarks"]
    assert isinstance(results, dict)
    for name, result in results.items():
        lines += ["", f"## {name}: {result['description']}", "", f"`{result['command']}` "]
        lines += [f"({result['seconds']} s, exitcode {result['exit_code']})", "", "```"]
        lines += [*result["output"], *result["errors"], "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Alle benchmarks na elkaar, elk in een eigen proces; wat ze afdrukken komt in "
        "bench/report.md en bench/report.json, met de commit, de machine en de datum.",
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="small",
        help="small: klaar in minuten; default: die van elke bench",
    )
    parser.add_argument(
        "--only", nargs="*", choices=sorted(BENCHMARKS), default=None, help="alleen deze benchmarks"
    )
    parser.add_argument("--list", action="store_true", help="noem de benchmarks zonder ze te draaien")
    arguments = parser.parse_args()
    if arguments.list:
        for name, description in BENCHMARKS.items():
            print(f"python -m bench.{name:<12} {description}")
        return
    report: dict[str, Any] = {
        "commit": commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "size": arguments.size,
        "benchmarks": {
            name: run(name, SIZES[arguments.size][name]) for name in (arguments.only or BENCHMARKS)
        },
    }
    (HERE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (HERE / "report.md").write_text(markdown(report))
    print(f"geschreven: {HERE / 'report.md'} en {HERE / 'report.json'}")


if __name__ == "__main__":
    main()
