"""Where this process's CPU goes, function by function, without a profiler's distortion (a tool for
work on bench 1's Python; `bench.profile R-T01 20000 --phases`).

cProfile pays about a microsecond for every call it sees, so a batch's many small calls (a generator
over 6,000 values, a property read 17 times a firing) look several times dearer than they are: it put
the array literals of an R-T01 batch at 10 µs per firing, which cost 2–4. `Phases` instead wraps a few
named functions, called once or twice per batch, and adds up each one's own process CPU (what it spent
less what the other wrapped functions it called spent), plus `execute`'s own (the driver's work inside
the statements' calls) when given the connection. The rest of the process's CPU is what was not wrapped.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

DRIVER = "(the driver, inside execute)"


class Phases:
    """`with Phases([(module, "name"), …], connection) as phases:` wraps each `module.name` for the
    block (the originals are put back after it) and fills `phases.own` ({label: seconds of this
    process's CPU spent in that function itself}) and `phases.calls` ({label: calls}). A label is the
    function's name; one function imported into several modules is wrapped in each, under one label."""

    def __init__(self, targets: Sequence[tuple[Any, str]], connection: Any = None) -> None:
        self.targets = list(targets)
        self.connection = connection
        self.own: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []  # per open wrapped call: what its wrapped children spent
        self._saved: list[tuple[Any, str, Any]] = []
        self._exits = contextlib.ExitStack()

    def _account(self, label: str, spent: float, children: float) -> None:
        self.own[label] = self.own.get(label, 0.0) + spent - children
        self.calls[label] = self.calls.get(label, 0) + 1
        if self._stack:
            self._stack[-1] += spent

    def _wrap(self, function: Callable, label: str) -> Callable:
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            started = time.process_time()
            self._stack.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.process_time() - started
                self._account(label, spent, self._stack.pop())

        return wrapped

    def _execute(self, execute, sql, params, many, context):
        started = time.process_time()
        try:
            return execute(sql, params, many, context)
        finally:
            self._account(DRIVER, time.process_time() - started, 0.0)

    def __enter__(self) -> Phases:
        try:
            for module, name in self.targets:
                original = getattr(module, name)  # a name that is gone raises, with what was wrapped put back
                self._saved.append((module, name, original))
                setattr(module, name, self._wrap(original, name))
            if self.connection is not None:
                self._exits.enter_context(self.connection.execute_wrapper(self._execute))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exits.close()
        for module, name, original in reversed(self._saved):
            setattr(module, name, original)
        self._saved.clear()

    def lines(self, *, total: float, n: int, unit: str) -> Iterator[str]:
        """One line per label, dearest first, in µs of this process's CPU per `unit` (`n` of them),
        then what no wrapped function accounts for out of `total` seconds."""
        for label, seconds in sorted(self.own.items(), key=lambda kv: -kv[1]):
            yield f"  {seconds / n * 1e6:7.2f} µs per {unit}  {label} ({self.calls[label]:,} calls)"
        yield f"  {(total - sum(self.own.values())) / n * 1e6:7.2f} µs per {unit}  (the rest: not wrapped)"
