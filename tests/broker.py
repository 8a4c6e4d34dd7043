"""The tasks the product handed to the real broker (Redis), taken off it and run here as a worker runs
them: tests see what was queued, not a stand-in for the queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from queue import Empty

from config.celery import app


def run_queued(task_name: str, where: Callable[[list], bool], *, wait: float = 5.0) -> int:
    """Take every queued `task_name` message whose positional arguments pass `where` off the default
    queue, run each (`Task.apply`, in this process) and acknowledge it; give back any other message
    (another test's, run in parallel). Waits up to `wait` seconds for the first match; returns how many
    ran."""
    ran, others = 0, []
    deadline = time.monotonic() + wait
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(block=True, timeout=0.2)
                except Empty:
                    if ran or time.monotonic() > deadline:
                        return ran
                    continue
                args, kwargs, _embed = message.payload
                if message.headers.get("task") == task_name and where(args):
                    app.tasks[task_name].apply(args=args, kwargs=kwargs)
                    message.ack()
                    ran += 1
                else:
                    others.append(message)  # given back once the queue is drained
        finally:
            for message in others:
                message.requeue()
            queue.close()


@contextmanager
def broker_down() -> Iterator[None]:
    """The broker unreachable, as when Redis is down: for the block, the app connects to a port nothing
    listens on (a real refused connection, not a stand-in for the broker). Its pools for the real broker
    are set aside, not closed (kombu keeps them for the process), and given back after."""
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url, app._pool, app.amqp._producer_pool = "redis://127.0.0.1:1/0", None, None
    try:
        yield
    finally:
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved
