"""Where the machine's CPU goes while sweepers work: by command, and inside PostgreSQL by the functions
that name its work (a tool for work on bench 1; needs Linux `perf` and the right to sample every core).

    .venv/bin/python -m bench.profile R-T01 50000 --workers 2 --perf

`perf record -a -g` samples every core from the workers' start signal to their end, and `perf report`
splits the samples: the share of each command (`postgres` is every PostgreSQL process, `python` the
sweepers, `swapper` an idle core), then, among PostgreSQL's samples, the inclusive share of a few
functions (`GROUPS`). The groups overlap where one calls the other — a foreign-key check starts an
executor and locks a row — so they do not add up.

The sampling rate is low on purpose: on this kind of machine (a virtual machine whose perf has only the
software clock) `-g` at 1,999 Hz slowed an R-T01 sweep fourfold (1,207 against 4,511 firings a second)
while 199 Hz left it as it was (4,803/s); 499 Hz is about as harmless.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERTZ = 499

# (what it is, the PostgreSQL function whose inclusive share measures it).
GROUPS = (
    ("foreign-key checks at commit", "AfterTriggerFireDeferred"),
    ("index entries", "ExecInsertIndexTuples"),
    ("executor start-up", "standard_ExecutorStart"),
    ("WAL records", "XLogInsert"),
    ("heap inserts", "heap_insert"),
    ("row locks", "heap_lock_tuple"),
    ("heap updates", "heap_update"),
    ("JSON", "to_jsonb"),
    ("planning", "pg_plan_queries"),
    ("parse and analysis", "pg_analyze_and_rewrite_fixedparams"),
    ("the WAL writer", "WalWriterMain"),
    ("the checkpointer", "CheckpointerMain"),
)

_COMMAND = re.compile(r"^\s*([\d.]+)%\s+(\S.*?)\s*$")
_SYMBOL = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(\S+)")


def commands(report: str) -> dict[str, float]:
    """`perf report --sort comm -g none` (its text) as {command: percent of all samples}."""
    shares: dict[str, float] = {}
    for line in report.splitlines():
        if line.startswith("#"):
            continue
        if m := _COMMAND.match(line):
            shares[m.group(2)] = shares.get(m.group(2), 0.0) + float(m.group(1))
    return shares


def inclusive(report: str) -> dict[str, float]:
    """`perf report --children --sort symbol -g none` (its text) as {function: inclusive percent}."""
    shares: dict[str, float] = {}
    for line in report.splitlines():
        if (m := _SYMBOL.match(line)) and m.group(3) not in shares:
            shares[m.group(3)] = float(m.group(1))
    return shares


@dataclass
class Profile:
    commands: dict[str, float] = field(default_factory=dict)
    postgres: dict[str, float] = field(default_factory=dict)  # function -> inclusive % of all samples

    def line(self) -> str:
        busy = 100.0 - self.commands.get("swapper", 0.0)
        top = ", ".join(
            f"{name} {share:.1f} %" for name, share in sorted(self.commands.items(), key=lambda kv: -kv[1])[:3]
        )
        groups = ", ".join(f"{what} {self.postgres.get(function, 0.0):.1f} %" for what, function in GROUPS)
        return (
            f"perf, share of all samples: {top} (cores {busy:.0f} % busy); inside PostgreSQL, each with what "
            f"it calls: {groups}"
        )


def available() -> str | None:
    """None if `perf` can sample the whole machine here, else why not."""
    if shutil.which("perf") is None:
        return "perf is not installed"
    probe = subprocess.run(
        ["perf", "record", "-a", "-F", str(HERTZ), "-o", "/dev/null", "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if probe.returncode == 0 else f"perf record -a fails: {probe.stderr.strip()[:200]}"


class Recording:
    """`perf record -a -g` from `start()` to `stop()`; `profile()` reads it (then the file is removed)."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="bench-perf-")
        self.path = str(Path(self._dir) / "perf.data")
        self._proc: subprocess.Popen | None = None

    def start(self) -> Recording:
        self._proc = subprocess.Popen(
            ["perf", "record", "-a", "-g", "-F", str(HERTZ), "-o", self.path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # perf takes a moment before it samples
        return self

    def stop(self) -> Recording:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(60)
        return self

    def _report(self, *args: str) -> str:
        out = subprocess.run(
            ["perf", "report", "-i", self.path, "--stdio", "-g", "none", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def profile(self) -> Profile:
        try:
            return Profile(
                commands=commands(self._report("--no-children", "--sort", "comm")),
                postgres=inclusive(self._report("--children", "--comm", "postgres", "--sort", "symbol")),
            )
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
