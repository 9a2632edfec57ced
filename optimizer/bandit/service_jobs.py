"""Background work of a bandit service worker: the default-reward (expiry) job, and the thread
that runs store calls off the event loop.

The default-reward job applies each campaign's ``default_reward`` to decisions whose reward
window has passed (:meth:`BanditStore.expire`). If it stopped, a tool that posts only conversions
would feed its policy nothing but successes, so the job

* survives every error (a store outage, a bug, a corrupt record): each failure is logged with
  its cause, counted, and retried with exponential backoff (interval x 2^failures, at most
  :data:`MAX_BACKOFF_SECONDS`), back to the normal interval after the next success;
* reports itself: :class:`ExpiryJobStatus` (last successful run, last error, failures in a row,
  backlog = decisions past their window still waiting for the default) is shown by ``/health``
  (with the API key) and ``/metrics``, so a dead or failing job is visible.

Store calls (choose, rewards, expiry, reads) run on one dedicated thread per worker
(:class:`StoreRunner`), never on the event loop: a slow call (a propensity over many arms, a
locked SQLite file) delays requests queued behind it, but ``/health`` and every request that does
not need the store are still answered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

logger = logging.getLogger("dmpopt.bandit.service")

#: Longest wait between two attempts of a failing default-reward job, seconds.
MAX_BACKOFF_SECONDS = 60.0
#: Default rewards applied per expiry call: small, so the store's write lock is never held long
#: (each is a policy update), with other requests served between calls.
EXPIRE_CHUNK = 100


class StoreRunner:
    """Runs store calls on one worker thread (``await runner(fn, *args)``); see the module docstring.

    One thread, not a pool: the stores serialise their writes anyway (a lock per store object), and
    one thread keeps the order in which requests reach the store the order they arrived in.
    """

    def __init__(self, name: str = "dmpopt-store") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the store thread; returns a concurrent Future."""
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


@dataclass
class ExpiryJobStatus:
    """What the default-reward job did last (mutable: the job updates it; readers copy it).

    Attributes
    ----------
    interval_seconds: normal wait between runs, seconds.
    started_at: Unix seconds when the job started.
    last_success_at: Unix seconds of the end of the last run that completed, or None.
    last_applied: default rewards applied by that run.
    n_applied_total: default rewards applied by this worker's job since it started.
    last_error: type and message of the last failure, or None.
    last_error_at: Unix seconds of that failure.
    consecutive_failures: failures since the last success (0: healthy).
    n_failures_total: failures since the job started.
    backlog: decisions past their reward window still without a reward, at the last successful
        run (None before the first one).
    next_run_in_seconds: wait before the next attempt (grows with backoff while failing).
    """

    interval_seconds: float
    started_at: float
    last_success_at: float | None = None
    last_applied: int = 0
    n_applied_total: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    consecutive_failures: int = 0
    n_failures_total: int = 0
    backlog: int | None = None
    next_run_in_seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        """No failure since the last success."""
        return self.consecutive_failures == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy, "interval_seconds": self.interval_seconds, "started_at": self.started_at,
            "last_success_at": self.last_success_at, "last_applied": self.last_applied,
            "n_applied_total": self.n_applied_total, "last_error": self.last_error,
            "last_error_at": self.last_error_at, "consecutive_failures": self.consecutive_failures,
            "n_failures_total": self.n_failures_total, "backlog": self.backlog,
            "next_run_in_seconds": self.next_run_in_seconds,
        }


def backoff_seconds(interval: float, failures: int) -> float:
    """Wait after ``failures`` failures in a row: ``interval * 2**failures``, at most MAX_BACKOFF_SECONDS."""
    return min(interval * (2.0 ** min(failures, 30)), max(MAX_BACKOFF_SECONDS, interval))


async def expiry_job(store: Any, status: ExpiryJobStatus, run: StoreRunner) -> None:
    """The default-reward loop (cancel the task to stop it). Never ends on an error."""
    delay = status.interval_seconds
    while True:
        status.next_run_in_seconds = delay
        await asyncio.sleep(delay)
        try:
            applied = 0
            while True:
                n = await run(store.expire, limit=EXPIRE_CHUNK)
                applied += n
                if n < EXPIRE_CHUNK:
                    break
            backlog = await run(store.overdue_count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the job must survive anything; it logs and retries
            status.consecutive_failures += 1
            status.n_failures_total += 1
            status.last_error = f"{type(exc).__name__}: {exc}"
            status.last_error_at = time.time()
            delay = backoff_seconds(status.interval_seconds, status.consecutive_failures)
            logger.error(
                "dmpopt bandit: default-reward job failed (%d in a row, last success %s): %s; retrying in %.1f s",
                status.consecutive_failures,
                "never" if status.last_success_at is None else time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(status.last_success_at)),
                status.last_error, delay, exc_info=not _is_user_error(exc),
            )
            continue
        if status.consecutive_failures:
            logger.warning("dmpopt bandit: default-reward job recovered after %d failure(s); applied %d default reward(s)",
                           status.consecutive_failures, applied)
        status.consecutive_failures = 0
        status.last_success_at = time.time()
        status.last_applied = applied
        status.n_applied_total += applied
        status.backlog = int(backlog)
        delay = status.interval_seconds


def _is_user_error(exc: BaseException) -> bool:
    from optimizer.errors import DmpoptError

    return isinstance(exc, DmpoptError)
