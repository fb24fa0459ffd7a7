"""Generations as the server runs them: a bounded queue of turns, and answers that stop with their client.

``GenerationSlots`` lets ``concurrent`` chat requests run and ``queued`` more
wait; one more is refused at once with 503 and ``Retry-After`` (OpenAI SDKs
retry on 503 and honour the header). A request holds its turn until its
answer is finished or abandoned.

``stream_pieces`` walks an :class:`~rag_app.answering.AnswerStream` one piece
at a time in a worker thread; whoever stops early (a client that disconnects
mid-stream, which Starlette turns into a cancellation) ends in ``finish``,
which closes the model's stream (the generators cancel on close) and gives
the turn back, so a dropped request does not keep the generator busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from rag_app.answering import AnswerStream

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """Every turn is taken and the queue is full; ``retry_after_s`` is what the client is told."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Turn:
    """One admitted request's place; ``release`` is idempotent."""

    def __init__(self, slots: GenerationSlots) -> None:
        self._slots, self._running, self._released = slots, False, False

    async def wait(self) -> None:
        """Wait until this request may generate."""
        await self._slots._semaphore.acquire()
        self._running = True

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._slots._admitted -= 1
        if self._running:
            self._slots._semaphore.release()


class GenerationSlots:
    """At most ``concurrent`` generations at once and ``queued`` waiting; the rest get :class:`QueueFull`."""

    def __init__(self, concurrent: int, queued: int, retry_after_s: int) -> None:
        self.concurrent, self.queued, self.retry_after_s = concurrent, queued, retry_after_s
        self._semaphore = asyncio.Semaphore(concurrent)
        self._admitted = 0  # running + waiting; touched on the event loop only

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> Turn:
        """A place in the queue, or :class:`QueueFull` when ``concurrent + queued`` requests hold one."""
        if self._admitted >= self.concurrent + self.queued:
            raise QueueFull(
                f"the server is busy: {self.concurrent} answer(s) running and {self.queued} waiting "
                f"(server.max_concurrent_generations / max_queued_generations); retry in {self.retry_after_s} s",
                self.retry_after_s,
            )
        self._admitted += 1
        return Turn(self)


_END = object()


async def stream_pieces(stream: AnswerStream) -> AsyncGenerator[str, None]:
    """The stream's text pieces, each produced in a worker thread (the event loop never blocks on the model).

    A cancellation while a piece is being produced takes effect once that piece is
    done (the thread is not abandoned), so ``finish`` never closes a stream that a
    thread is still stepping.
    """
    pieces = iter(stream)
    while True:
        piece = await anyio.to_thread.run_sync(next, pieces, _END)
        if piece is _END:
            return
        yield str(piece)


async def finish(stream: AnswerStream, turn: Turn) -> None:
    """Close the model's stream (a no-op when it ran to the end) and give the turn back; never cancelled."""
    with anyio.CancelScope(shield=True):
        try:
            await anyio.to_thread.run_sync(stream.close)
        except Exception:  # closing must not mask what ended the request
            logger.exception("closing an abandoned generation failed")
        finally:
            turn.release()


class GenerationResponse(StreamingResponse):
    """A streaming answer that, however it ends (done, client gone, error), closes its generation and turn."""

    def __init__(self, events: AsyncIterator[str], *, stream: AnswerStream, turn: Turn, **kwargs: Any) -> None:
        super().__init__(events, **kwargs)
        self._stream, self._turn = stream, turn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await finish(self._stream, self._turn)


async def run_to_end(stream: AnswerStream, turn: Turn, gone: Callable[[], Awaitable[bool]]) -> bool:
    """Consume a non-streamed answer; stop early (False) when ``gone()`` says the client left."""
    try:
        async with contextlib.aclosing(stream_pieces(stream)) as pieces:
            async for _ in pieces:
                if await gone():
                    logger.info("client disconnected; generation stopped")
                    return False
        return True
    finally:
        await finish(stream, turn)
