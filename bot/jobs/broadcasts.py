"""Broadcasts over time: WhatsApp rows that waited for a later day's quota go out on their day,
and each broadcast with nothing left to send today posts its delivery report to the operator
group once."""

from __future__ import annotations

BROADCAST_CHECK_SECONDS = 60


async def run(app) -> None:
    await app.store.broadcasts.wake_waiting(now=app.clock.now())
    await app.hearings.finish_broadcasts()


def register(scheduler, app) -> None:
    scheduler.add_job(
        run,
        "interval",
        args=(app,),
        seconds=BROADCAST_CHECK_SECONDS,
        id="broadcasts",
        max_instances=1,
        coalesce=True,
    )
