"""bench.phases.Phases adds up each wrapped function's own CPU (its wrapped callees' and the driver's
taken out), counts the calls, and puts the originals back after its block."""

import time
import types

import pytest
from django.db import connection

from bench.phases import DRIVER, Phases


def _burn(seconds: float) -> None:
    """Spend about `seconds` of this process's CPU."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def _module() -> types.SimpleNamespace:
    """A module-like namespace whose `outer` calls `inner` through the namespace, as a module's
    function calls another by its global name."""
    m = types.SimpleNamespace()

    def inner() -> str:
        _burn(0.03)
        return "inner"

    def outer() -> str:
        _burn(0.01)
        return m.inner() + m.inner()

    m.inner, m.outer = inner, outer
    return m


def test_each_function_counts_its_own_cpu_and_its_calls():
    m = _module()
    with Phases([(m, "outer"), (m, "inner")]) as phases:
        started = time.process_time()
        assert m.outer() == "innerinner"
        total = time.process_time() - started
    assert phases.calls == {"outer": 1, "inner": 2}
    assert phases.own["inner"] >= 0.06
    assert 0.01 <= phases.own["outer"] < 0.03  # its callee's 0.06 s are not its own
    assert sum(phases.own.values()) <= total + 1e-3
    rest = list(phases.lines(total=total, n=2, unit="call"))[-1]
    assert "(the rest: not wrapped)" in rest


def test_the_originals_are_back_after_the_block_even_when_it_raises():
    m = _module()
    inner, outer = m.inner, m.outer
    with pytest.raises(RuntimeError), Phases([(m, "outer"), (m, "inner")]):
        assert m.inner is not inner
        raise RuntimeError("out")
    assert (m.inner, m.outer) == (inner, outer)


@pytest.mark.django_db
def test_the_drivers_time_inside_execute_is_its_own_not_its_callers():
    def query() -> None:
        with connection.cursor() as cursor:
            for _ in range(20):
                cursor.execute("SELECT 1")
                cursor.fetchone()

    m = types.SimpleNamespace(query=query)
    with Phases([(m, "query")], connection) as phases:
        m.query()
    assert phases.calls[DRIVER] == 20
    assert phases.calls["query"] == 1
    assert phases.own[DRIVER] > 0
