"""Bench 2's two states alternated on the loaded bench database (a tool for a bench 2 verdict).

    .venv/bin/python -m bench.alternate ABABAB    # A: 10,000 future pending deadlines, B: 1,000,000

Bench 2 measures the 10,000 state, the 1,000,000, then the 10,000 again, minutes apart, and a run's
verdict can read the machine's drift over those minutes rather than the future rows (RUN70, RUN71,
RUN145). Alternating the states several times tells the two apart: each state is measured as the
runner measures it (`bench.run.scale_state`: the median of three vacuumed sweeps of 20,000 due, 2
workers) and printed with the machine's CPU and WAL per firing. Between states the newest future
pending deadlines are deleted or loaded (`bench.generate.set_future_pending`); the oldest 10,000 stay.
"""

from __future__ import annotations

import argparse
import time

from bench import run as runner  # the bench's environment, as `make bench` sets it

STATES = {"A": runner.SCALE_FUTURE_SMALL, "B": runner.SCALE_FUTURE_BIG}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("states", help="a sequence of A (10,000 future pending) and B (1,000,000), e.g. ABABAB")
    args = parser.parse_args()
    if not args.states or set(args.states) - set(STATES):
        parser.error("states: a sequence of A and B")
    import django

    django.setup()
    from bench import generate
    from orders.models import Order

    first_order = Order.objects.order_by("id").values_list("id", flat=True).first()
    if first_order is None:
        parser.error("the bench database is empty: run `make bench` first")
    for state in args.states:
        generate.set_future_pending(STATES[state])
        figures = runner.scale_state(first_order, runner.SCALE_SWEEP)
        runner.say(
            f"{time.strftime('%H:%M:%S', time.gmtime())} UTC {state} ({STATES[state]:,} future pending): "
            f"{figures.rate:,.0f}/s, the machine's CPU {figures.cpu_us:,.0f} µs and the WAL "
            f"{figures.wal_bytes:,.0f} B per firing"
        )


if __name__ == "__main__":
    main()
