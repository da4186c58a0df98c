"""Group commit: every webhook is on disk before its 2xx, yet a storm does not pay one commit per hook.

A receiver hands its verified delivery to ``GroupCommit.submit`` and awaits the result. The first submission
schedules a commit for the event loop's next turn; every delivery submitted before that turn (in a storm: all
the requests the server has ready) joins the same transaction. Alone, a hook waits for nothing; in a storm, the
commit cost is shared. (One transaction per hook would be correct too: this only makes it cheaper.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Callable[[Sequence[T]], list[R]], max_batch: int = 500) -> None:
        self.commit = commit  # persists a batch in one transaction; one result per item, in order
        self.max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self.batches = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        self._scheduled = bool(self._waiting)
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._flush)
        self.batches += 1
        try:
            results = self.commit([item for item, _ in batch])
        except Exception as error:  # nothing was committed: every hook in the batch gets a 5xx and is retried
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
