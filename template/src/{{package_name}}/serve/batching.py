"""Micro-batching: concurrent requests share one call of the model.

Each request puts its inputs on a bounded queue and waits. One worker takes the first waiting
request, gathers more for up to `max_wait_s` or until `max_batch_size` inputs, runs the model
once on all of them in a single inference thread (so the event loop keeps answering /healthz and
/metrics), and hands each request its own slice of the outputs. A failing batch fails only the
requests in it. A full queue refuses at once (QueueFullError); a request past its deadline stops
waiting (DeadlineError), and is dropped if its batch has not started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

Input = TypeVar("Input")
Output = TypeVar("Output")


class QueueFullError(Exception):
    """The queue holds serve.max_queue requests already: the client should retry later."""


class DeadlineError(Exception):
    """The request was not answered within serve.request_timeout_s."""


class StoppedError(Exception):
    """The batcher is shutting down and takes no new work."""


@dataclass(frozen=True)
class Batched(Generic[Output]):
    """A request's outputs, and how many inputs its batch held in all."""

    outputs: list[Output]
    batch_size: int


@dataclass
class _Job(Generic[Input, Output]):
    inputs: Sequence[Input]
    future: asyncio.Future[Batched[Output]]
    deadline: float


@dataclass(frozen=True)
class BatchStats:
    """What one call of the model did, for metrics."""

    inputs: int
    requests: int
    seconds: float
    failed: bool


class MicroBatcher(Generic[Input, Output]):
    """Gathers the inputs of concurrent `submit` calls into calls of `run`.

    `run` takes a list of inputs and returns one output per input, in order. Create the batcher
    inside the running event loop (the app's lifespan): its queue belongs to that loop.
    """

    def __init__(
        self,
        run: Callable[[list[Input]], Sequence[Output]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue: int,
        timeout_s: float,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self._run = run
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job[Input, Output]] = asyncio.Queue(maxsize=max_queue)
        # One thread: batches run one after another, never competing for the same cores or GPU.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        # A request that did not fit in the last batch starts the next one.
        self._carried: _Job[Input, Output] | None = None
        self._current: list[_Job[Input, Output]] = []
        self._stopping = False
        self._worker = asyncio.create_task(self._work(), name="micro-batcher")

    @property
    def depth(self) -> int:
        """Requests waiting for a batch, and in the batch being run."""
        return self._queue.qsize() + (self._carried is not None) + len(self._current)

    async def submit(self, inputs: Sequence[Input]) -> Batched[Output]:
        """The outputs for `inputs`, computed in a batch with other requests' inputs."""
        if self._stopping:
            raise StoppedError("the server is shutting down")
        loop = asyncio.get_running_loop()
        job: _Job[Input, Output] = _Job(
            inputs, loop.create_future(), deadline=time.monotonic() + self.timeout_s
        )
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFullError(f"{self._queue.maxsize} requests are queued already") from None
        try:
            # shield: a timeout must not cancel the future under a running batch; the worker
            # sees the request gave up through the deadline and skips it if not started.
            return await asyncio.wait_for(asyncio.shield(job.future), self.timeout_s)
        except TimeoutError:
            job.future.cancel()
            raise DeadlineError(f"no answer within {self.timeout_s:g} s") from None
        except asyncio.CancelledError:
            job.future.cancel()  # the client went away: its work, if not started, is dropped
            raise

    async def _next_job(self, timeout: float | None) -> _Job[Input, Output] | None:
        if self._carried is not None:
            job, self._carried = self._carried, None
            return job
        if timeout is None:
            return await self._queue.get()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def _live(self, job: _Job[Input, Output]) -> bool:
        """Whether someone still waits for the job: its deadline is ahead and it was not failed."""
        if job.future.done():
            return False
        if time.monotonic() >= job.deadline:
            job.future.cancel()
            return False
        return True

    async def _gather(self) -> list[_Job[Input, Output]]:
        """The next batch: the first live request, and those that arrive within max_wait_s."""
        first = await self._next_job(None)
        while first is not None and not self._live(first):
            first = await self._next_job(None)
        assert first is not None
        jobs, size = [first], len(first.inputs)
        until = time.monotonic() + self.max_wait_s
        while size < self.max_batch_size:
            job = await self._next_job(max(0.0, until - time.monotonic()))
            if job is None:
                break
            if not self._live(job):
                continue
            if size + len(job.inputs) > self.max_batch_size:
                self._carried = job
                break
            jobs.append(job)
            size += len(job.inputs)
        return jobs

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            inputs = [item for job in jobs for item in job.inputs]
            self._current = jobs
            started = time.monotonic()
            failed = False
            try:
                outputs = await loop.run_in_executor(self._executor, self._run, inputs)
                if len(outputs) != len(inputs):
                    raise RuntimeError(f"{len(outputs)} outputs for {len(inputs)} inputs")
            except Exception as error:
                failed = True
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
            else:
                start = 0
                for job in jobs:
                    end = start + len(job.inputs)
                    if not job.future.done():
                        job.future.set_result(Batched(list(outputs[start:end]), len(inputs)))
                    start = end
            finally:
                self._current = []
            if self._on_batch is not None:
                self._on_batch(
                    BatchStats(len(inputs), len(jobs), time.monotonic() - started, failed)
                )

    async def stop(self, drain_timeout_s: float) -> None:
        """Take no new work; answer what is queued within `drain_timeout_s`, fail the rest."""
        self._stopping = True
        deadline = time.monotonic() + drain_timeout_s
        while self.depth and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._worker.cancel()
        pending = [*self._current, *([self._carried] if self._carried else [])]
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for job in pending:
            if not job.future.done():
                job.future.set_exception(StoppedError("the server shut down before answering"))
        # A batch still running finishes in its thread; nothing waits for its result.
        self._executor.shutdown(wait=False, cancel_futures=True)
