"""Survey invitations: after a complaint got its answer, and after a hearing was held (its
results published) to those who said they would come.

The job looks for complaints that reached `answered` or `resolved`
at least SURVEY_INVITATION_DELAY_HOURS ago, reading the complaint events, and invites their
authors to rate how the complaint was handled. `invite` is idempotent: the unique key
(subject kind, subject id, citizen) is written in the same transaction as the outbox row, so an
invitation goes out once, whatever restarts; nobody who opted out of surveys is invited.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.storage.models import NewOutboxMessage

log = logging.getLogger(__name__)

# Statuses after which a complaint's author is invited.
INVITE_AFTER = ("answered", "resolved")
KIND = "survey_invitation"


class SurveyInviter:
    def __init__(self, store, clock, *, delay: timedelta, valid_for: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.delay = delay
        self.valid_for = valid_for

    @classmethod
    def of(cls, app) -> SurveyInviter:
        settings = app.settings
        return cls(
            app.store,
            app.clock,
            delay=timedelta(hours=settings.survey_invitation_delay_hours),
            valid_for=timedelta(days=settings.survey_invitation_valid_days),
        )

    async def invite(self, citizen_id: int, subject_kind: str, subject_id: int) -> bool:
        """Invite one citizen to rate one subject ('complaint', 'hearing'); True when an
        invitation was queued now, False when it was sent before or the citizen opted out."""
        citizen = await self.store.citizens.get(citizen_id=citizen_id)
        if citizen is None:
            return False
        now = self.clock.now()

        def message(invitation_id: int) -> NewOutboxMessage:
            return NewOutboxMessage(
                channel=citizen.channel,
                recipient=citizen.user_key,
                citizen_id=citizen.id,
                kind=KIND,
                payload={"invitation_id": invitation_id},
                dedupe_key=f"{KIND}:{invitation_id}",
            )

        invitation_id = await self.store.surveys.invite(
            citizen_id=citizen_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            now=now,
            closes_at=now + self.valid_for,
            message=message,
        )
        return invitation_id is not None

    async def run_once(self) -> int:
        """Invite the authors of complaints answered a delay ago, and the attendees of hearings
        held lately; returns how many were invited now."""
        now = self.clock.now()
        due = await self.store.surveys.complaints_to_invite(
            answered_before=now - self.delay,
            since=now - self.delay - self.valid_for,
            statuses=INVITE_AFTER,
        )
        invited = 0
        for complaint_id, citizen_id in due:
            invited += await self.invite(citizen_id, "complaint", complaint_id)
        # those who said they would come to a hearing held since (its results published)
        for hearing_id, citizen_id in await self.store.hearings.attendees_of_held(
            since=now - self.valid_for
        ):
            invited += await self.invite(citizen_id, "hearing", hearing_id)
        if invited:
            log.info("%d survey invitations queued", invited)
        return invited


async def invite(app, citizen_id: int, subject_kind: str, subject_id: int) -> bool:
    """For other features (a hearing held: those who said they would come)."""
    return await SurveyInviter.of(app).invite(citizen_id, subject_kind, subject_id)


def register(scheduler, app) -> None:
    scheduler.add_job(
        SurveyInviter.of(app).run_once,
        "interval",
        minutes=app.settings.survey_check_minutes,
        id="survey_invitations",
        max_instances=1,
        coalesce=True,
    )
