"""Tracked background tasks: adapters acknowledge an event at once and do the work here; shutdown drains."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class TaskTracker:
    """Keeps a strong reference to every task, logs the ones that fail, and drains them on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def closing(self) -> bool:
        return self._closing

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any] | None:
        """Run `coro` in the background. Returns None (and closes `coro`) once shutdown has begun."""
        if self._closing:
            coro.close()
            log.info("tasks.refused_during_shutdown", task=name)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("tasks.failed", task=task.get_name(), error=type(exc).__name__, exc_info=exc)

    def cancel_all(self) -> int:
        """Stop accepting work and cancel every running task now (a second stop signal)."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> int:
        """Stop accepting work, wait up to `timeout_s` for running tasks, cancel the rest.

        Returns how many tasks had to be cancelled."""
        self._closing = True
        pending = set(self._tasks)
        if not pending:
            return 0
        log.info("tasks.draining", count=len(pending), timeout_s=timeout_s)
        _done, still = await asyncio.wait(pending, timeout=timeout_s)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=5)
            log.warning("tasks.cancelled_at_deadline", count=len(still))
        return len(still)
