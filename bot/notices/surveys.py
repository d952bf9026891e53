"""The survey invitation, rendered when sent in the citizen's language of that moment.

Its buttons `survey:<invitation id>:go|optout` are answered by the survey dialog in any state,
days later too. WhatsApp outside the 24-hour window uses the approved survey template, whose
`{{1}}` says what the survey is about.
"""

from __future__ import annotations

from bot.dialogs.events import Option, Rendered, Reply
from bot.i18n import I18n


class SurveyNotices:
    def __init__(self, store, i18n: I18n, default_locale: str) -> None:
        self.store = store
        self.i18n = i18n
        self.default_locale = default_locale

    async def render_invitation(self, payload: dict) -> Rendered:
        """Outbox renderer for kind 'survey_invitation'."""
        invitation = await self.store.surveys.invitation(invitation_id=payload["invitation_id"])
        citizen = await self.store.citizens.get(citizen_id=invitation.citizen_id)
        t = self.i18n.texts((citizen and citizen.locale) or self.default_locale)
        _ = t.gettext
        if invitation.subject_kind == "complaint":
            complaint = await self.store.complaints.get(complaint_id=invitation.subject_id)
            number = complaint.reg_number if complaint else str(invitation.subject_id)
            about = _("complaint No. {number}").format(number=number)
            lead = _(
                "Your complaint No. {number} has been answered. Would you rate how it was handled?"
            ).format(number=number)
        else:
            about = _("the public hearing")
            lead = _(
                "Thank you for coming to the public hearing. Would you rate how it was organised?"
            )
        text = "\n\n".join(
            [
                lead,
                _("It takes a minute; every question can be skipped. The survey is anonymous."),
            ]
        )
        options = (
            Option(f"survey:{invitation.id}:go", _("⭐ Rate")),
            Option(f"survey:{invitation.id}:optout", _("🚫 Do not invite me to surveys")),
        )
        return Rendered([Reply(text=text, options=options)], {"1": about})
