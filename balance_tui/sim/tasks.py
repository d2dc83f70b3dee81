"""Cancelling a helper task without leaking it and without swallowing a cancellation meant for the caller."""

import asyncio


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has finished. Re-raises what it died of, if it died before being
    cancelled, and the caller's own cancellation if that arrives meanwhile."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
