"""Filing a complaint: category, description, place, photos, named or anonymous, summary, send.

The description may be a voice message instead of text, for citizens who find typing hard; the
evidence step takes short videos besides photos. Both are cleaned of metadata before they are
stored (`bot.domain.recordings`). Before an anonymous report with a voice description is sent,
the citizen is told that a voice can be recognised and chooses: keep it, type instead, cancel.

Each step has a handler for valid input (first) and a prompt shown again, with a short hint,
for anything else. From the summary any field can be changed and the citizen comes back to the
summary; a "Send" that arrives twice registers one complaint.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from bot.dialogs.common import COMPLAINT, cancel_option, text_input, with_event
from bot.dialogs.dialog import Command, Dialog, MenuEntry, Route
from bot.dialogs.events import Attachment, Option, Reply
from bot.dialogs.inputs import parse_phone, valid_pin
from bot.dialogs.states import EDIT_STEP_STATES, State
from bot.dialogs.turn import Turn
from bot.domain.complaints import Draft
from bot.domain.media import NOT_AN_IMAGE, TOO_LARGE, ImageRejected
from bot.domain.recordings import TOO_LONG, VOICE_DESCRIPTION, RecordingRejected
from bot.i18n import N_
from bot.notices.complaints import receipt_text
from bot.storage.models import VIDEO, VOICE, MediaFile, Photo

log = logging.getLogger(__name__)

MIN_DESCRIPTION = 10
MAX_DESCRIPTION = 4000
MAX_SHORT_TEXT = 300

# The identity part of a draft, and the steps that fill it in.
_IDENTITY_FIELDS = ("anonymous", "full_name", "phone", "contact_address")
_IDENTITY_STATES = frozenset({State.IDENTITY, State.NAME, State.PHONE, State.CONTACT_ADDRESS})


class ComplaintDialog(Dialog):
    name = COMPLAINT
    states = {
        State.CATEGORY: "_in_category",
        State.DESCRIPTION: "_in_description",
        State.PLACE: "_in_place",
        State.PHOTOS: "_in_photos",
        State.IDENTITY: "_in_identity",
        State.NAME: "_in_name",
        State.PHONE: "_in_phone",
        State.CONTACT_ADDRESS: "_in_contact_address",
        State.CONFIRM: "_in_confirm",
        State.EDIT: "_in_edit",
        State.VOICE_CHOICE: "_in_voice_choice",
    }
    prompts = {
        State.CATEGORY: "_prompt_category",
        State.DESCRIPTION: "_prompt_description",
        State.PLACE: "_prompt_place",
        State.PHOTOS: "_prompt_photos",
        State.IDENTITY: "_prompt_identity",
        State.NAME: "_prompt_name",
        State.PHONE: "_prompt_phone",
        State.CONTACT_ADDRESS: "_prompt_contact_address",
        State.CONFIRM: "_prompt_confirm",
        State.EDIT: "_prompt_edit",
        State.VOICE_CHOICE: "_prompt_voice_choice",
    }
    commands = {"/complaint": Command("open"), "/new": Command("open")}
    menu = MenuEntry("menu:complaint", N_("📝 File a complaint"), order=10)
    routes = (
        # "Send" pressed again after the complaint was registered: checked against the store
        Route("confirm:yes", "_confirm_again", except_in=frozenset({State.CONFIRM})),
        Route("nav:summary", "_back_to_summary"),
    )

    async def open(self, turn: Turn, *, suggested: str | None = None) -> None:
        """A new draft; `suggested`: text typed earlier, offered as the description."""
        # the draft's id becomes the complaint's unique key: registered once, however often
        # "Send" arrives
        turn.conv.data["draft"] = {"photos": [], "id": secrets.token_hex(8)}
        turn.conv.data.pop("editing", None)
        turn.go(State.CATEGORY)
        turn.replies.append(self._prompt_category(turn))
        if suggested:
            turn.draft["suggested"] = suggested

    def prompt(self, turn: Turn) -> Reply:
        reply = super().prompt(turn)
        if turn.state in EDIT_STEP_STATES and turn.conv.data.get("editing"):
            # a step opened from the summary: back to it unchanged, besides "Cancel"
            back = Option("nav:summary", turn._("⬅️ Back to the summary"))
            options = [o for o in reply.options if o.id != "nav:cancel"]
            reply = replace(reply, options=(*options, back, cancel_option(turn)))
        return reply

    # ----- prompts ---------------------------------------------------------------------------

    def _prompt_category(self, turn: Turn) -> Reply:
        locale = turn.texts.locale
        options = tuple(Option(f"cat:{c.id}", c.label(locale)) for c in self.content.categories)
        return Reply(
            text=turn._("What is the complaint about? Choose a category."),
            options=(*options, cancel_option(turn)),
        )

    def _prompt_description(self, turn: Turn) -> Reply:
        _ = turn._
        text = _(
            "Describe the problem in your own words: what happened, where and when. "
            "From {min} to {max} characters."
        ).format(min=MIN_DESCRIPTION, max=MAX_DESCRIPTION)
        options = [cancel_option(turn)]
        suggested = _suggested_description(turn)
        if suggested:
            text += "\n\n" + _("Or use what you wrote before: «{text}»").format(text=suggested)
            options.insert(0, Option("desc:use", _("✅ Use what I wrote")))
        text += "\n\n" + _(
            "If typing is hard for you, send a voice message instead (up to {minutes} min)."
        ).format(minutes=max(1, self.services.limits.max_voice_seconds // 60))
        return Reply(text=text, options=tuple(options))

    def _prompt_place(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("Where is it? Send a location pin or type the address. You can skip this step."),
            options=(Option("place:skip", _("⏭ Skip")), cancel_option(turn)),
            ask_location=_("📍 Send my location"),
        )

    def _prompt_photos(self, turn: Turn) -> Reply:
        _ = turn._
        count, most = len(turn.draft.get("photos", [])), self.services.limits.max_photos
        counter = _("Photos attached: {count} of {max}.").format(count=count, max=most)
        # a photo's own answer ("Photo 2 of 5 attached.") has just shown the count
        answered = bool(turn.event.attachments) and count > 0
        if count >= most:
            lines = [] if answered else [counter]
            lines.append(_("No more photos can be added. Press Done to go on."))
        elif answered:
            lines = [_("You can send another photo, or press Done.")]
        else:
            lines = [
                _(
                    "You can attach up to {max} photos as evidence. Send them now, or press Done."
                ).format(max=most)
            ]
            if count:
                lines.append(counter)
        limits = self.services.limits
        videos = len(turn.draft.get("videos", []))
        if videos:
            lines.append(
                _("Videos attached: {count} of {max}.").format(count=videos, max=limits.max_videos)
            )
        elif limits.max_videos and not answered:
            lines.append(
                _("Short videos are welcome too: up to {max}, {seconds} seconds each.").format(
                    max=limits.max_videos, seconds=limits.max_video_seconds
                )
            )
        options = [Option("photos:done", _("✅ Done"))]
        if count and not videos:
            options.append(Option("photos:clear", _("🗑 Remove the photos")))
        elif videos:
            options.append(Option("photos:clear", _("🗑 Remove the photos and videos")))
        options.append(cancel_option(turn))
        return Reply(text="\n".join(lines), options=tuple(options))

    def _prompt_identity(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_(
                "Do you want to give your name?\n\n"
                "Named appeal: you give your full name, phone and address. It is a formal appeal: "
                "the law obliges the body to answer it on the merits within the legal deadline.\n\n"
                "Anonymous report: we do not ask who you are, and the operators will not see your "
                "name, phone or account. It is still registered, routed, tracked and answered "
                "here, but by law a body may decline to treat a report without name and address "
                "as a formal appeal."
            ),
            options=(
                Option("id:named", _("👤 Named appeal")),
                Option("id:anon", _("🕶 Anonymous report")),
                cancel_option(turn),
            ),
        )

    def _prompt_name(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Your full name (surname, first name):"), options=(cancel_option(turn),)
        )

    def _prompt_phone(self, turn: Turn) -> Reply:
        _ = turn._
        if not turn.caps.contact_button:
            return Reply(
                text=_("Your phone number: please type it (e.g. +996 555 123 456)."),
                options=(cancel_option(turn),),
            )
        return Reply(
            text=_(
                "Your phone number: press the button to share it, "
                "or type it (e.g. +996 555 123 456)."
            ),
            options=(cancel_option(turn),),
            ask_contact=_("📱 Share my phone number"),
        )

    def _prompt_contact_address(self, turn: Turn) -> Reply:
        return Reply(
            text=turn._("Your postal address, for the official answer:"),
            options=(cancel_option(turn),),
        )

    def _prompt_confirm(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=self._summary(turn),
            options=(
                Option("confirm:yes", _("✅ Send")),
                Option("confirm:edit", _("✏️ Change something")),
                cancel_option(turn),
            ),
        )

    def _prompt_voice_choice(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_(
                "Your report is anonymous, but its description is a voice message. A voice can "
                "be recognised: whoever listens to it may know who is speaking.\n\n"
                "Send the voice message as it is, replace it with a typed text, or cancel the "
                "report?"
            ),
            options=(
                Option("voice:keep", _("🎤 Keep the voice and send")),
                Option("voice:text", _("⌨️ Type the text instead")),
                cancel_option(turn),
            ),
        )

    def _prompt_edit(self, turn: Turn) -> Reply:
        _ = turn._
        return Reply(
            text=_("What do you want to change?"),
            options=(
                Option("edit:category", _("Category")),
                Option("edit:description", _("Description")),
                Option("edit:place", _("Place")),
                Option("edit:photos", _("Photos")),
                Option("edit:identity", _("Named or anonymous")),
                Option("edit:back", _("⬅️ Back to the summary")),
            ),
        )

    def _summary(self, turn: Turn) -> str:
        _ = turn._
        draft = turn.draft
        category = self.content.category(draft.get("category", ""))
        lines = [
            _("Please check your complaint:"),
            _("Category: {category}").format(
                category=category.label(turn.texts.locale) if category else "—"
            ),
            _("Description: {text}").format(
                text=_voice_label(turn, draft["voice"])
                if draft.get("voice")
                else draft.get("description", "—")
            ),
        ]
        if draft.get("address"):
            lines.append(_("Place: {address}").format(address=draft["address"]))
        if draft.get("latitude") is not None:
            lines.append(_("Location pin: attached"))
        lines.append(_("Photos: {count}").format(count=len(draft.get("photos", []))))
        if draft.get("videos"):
            lines.append(_("Videos: {count}").format(count=len(draft["videos"])))
        if draft.get("anonymous"):
            lines.append(_("Anonymous report: your name and contacts are not sent."))
        else:
            lines.append(
                _("Applicant: {name}, phone {phone}, address {address}").format(
                    name=draft.get("full_name"),
                    phone=draft.get("phone"),
                    address=draft.get("contact_address"),
                )
            )
        return "\n".join(lines)

    # ----- steps -----------------------------------------------------------------------------

    async def _advance(self, turn: Turn, to: State) -> None:
        """Go to the next step, or back to the summary when the citizen was changing one field."""
        if turn.conv.data.get("editing") and to not in (
            State.NAME,
            State.PHONE,
            State.CONTACT_ADDRESS,
        ):
            turn.conv.data.pop("editing", None)
            to = State.CONFIRM
        turn.go(to)
        await self.nav.prompt(turn)

    async def _in_category(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        category = (
            self.content.category(option.removeprefix("cat:"))
            if option.startswith("cat:")
            else None
        )
        if category is None:
            await self.nav.reprompt(turn, turn._("Please choose a category with the buttons."))
            return
        turn.draft["category"] = category.id
        await self._advance(turn, State.DESCRIPTION)

    async def _in_description(self, turn: Turn) -> None:
        if turn.event.option_id == "desc:use" and (typed := _suggested_description(turn)):
            turn.draft["description"] = typed
            await self._advance(turn, State.PLACE)
            return
        voices = [a for a in turn.event.attachments if a.kind in ("voice", "audio")]
        if voices:
            await self._take_voice(turn, voices[0])
            return
        caption = turn.event.text.strip() if turn.event.attachments else ""
        if await self._took_photos(turn, prompt=not caption):
            if caption:  # a photo with a caption: the caption is the description
                turn.event = with_event(turn.event, kind="text", attachments=())
                await self._in_description(turn)
            return
        text = await text_input(self.nav, turn, MIN_DESCRIPTION, MAX_DESCRIPTION)
        if text is None:
            return
        turn.draft["description"] = text
        turn.draft.pop("voice", None)  # a typed text replaces a voice message
        await self._advance(turn, State.PLACE)

    async def _in_place(self, turn: Turn) -> None:
        event = turn.event
        if await self._took_photos(turn):
            return
        if event.kind == "location":
            if not valid_pin(event.latitude, event.longitude):
                hint = turn._(
                    "I could not use this location: its coordinates are not valid. "
                    "Please send the pin again, or type the address."
                )
                await self.nav.reprompt(turn, hint)
                return
            turn.draft.update(latitude=float(event.latitude), longitude=float(event.longitude))
            turn.say(turn._("Location saved."))
        elif event.option_id == "place:skip":
            turn.draft.update(latitude=None, longitude=None, address=None)
        else:
            text = await text_input(self.nav, turn, 3, MAX_SHORT_TEXT)
            if text is None:
                return
            turn.draft["address"] = text
            turn.say(turn._("Address saved."))
        await self._advance(turn, State.PHOTOS)

    async def _in_photos(self, turn: Turn) -> None:
        if await self._took_photos(turn):
            return
        match turn.event.option_id:
            case "photos:done":
                await self._advance(turn, State.IDENTITY)
            case "photos:clear":
                had_videos = bool(turn.draft.get("videos"))
                turn.draft["photos"] = []
                turn.draft["videos"] = []
                turn.say(
                    turn._("The photos and videos were removed.")
                    if had_videos
                    else turn._("The photos were removed.")
                )
                await self.nav.prompt(turn)
            case _ if len(turn.draft.get("photos", [])) >= self.services.limits.max_photos:
                await self.nav.reprompt(turn, turn._("Please choose with the buttons."))
            case _:
                await self.nav.reprompt(turn, turn._("Send a photo, or press Done."))

    async def _in_identity(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "id:anon":
                turn.draft.update(anonymous=True, full_name=None, phone=None, contact_address=None)
                turn.conv.data.pop("editing", None)
                turn.go(State.CONFIRM)
                await self.nav.prompt(turn)
            case "id:named":
                turn.draft["anonymous"] = False
                turn.go(State.NAME)
                await self.nav.prompt(turn)
            case _:
                await self.nav.reprompt(turn, turn._("Please choose with the buttons."))

    async def _in_name(self, turn: Turn) -> None:
        text = await text_input(self.nav, turn, 3, 150)
        if text is not None:
            turn.draft["full_name"] = text
            turn.go(State.PHONE)
            await self.nav.prompt(turn)

    async def _in_phone(self, turn: Turn) -> None:
        event = turn.event
        if event.kind == "contact" and not event.contact_is_own:
            hint = turn._(
                "This is someone else's contact, so I did not save it. Please share your own "
                "number, or type the number at which you can be reached."
            )
            await self.nav.reprompt(turn, hint)
            return
        typed = {"contact": event.contact_phone, "text": event.text}.get(event.kind)
        phone = parse_phone(typed or "")
        if phone is None:
            await self.nav.reprompt(turn, turn._("That does not look like a phone number."))
            return
        turn.draft["phone"] = phone
        turn.say(turn._("Phone number saved."))
        turn.go(State.CONTACT_ADDRESS)
        await self.nav.prompt(turn)

    async def _in_contact_address(self, turn: Turn) -> None:
        text = await text_input(self.nav, turn, 5, MAX_SHORT_TEXT)
        if text is not None:
            turn.draft["contact_address"] = text
            turn.conv.data.pop("editing", None)
            turn.go(State.CONFIRM)
            await self.nav.prompt(turn)

    async def _in_confirm(self, turn: Turn) -> None:
        match turn.event.option_id:
            case "confirm:yes" if _voice_unconfirmed(turn.draft):
                turn.go(State.VOICE_CHOICE)
                await self.nav.prompt(turn)
            case "confirm:yes":
                await self._register(turn)
            case "confirm:edit":
                turn.go(State.EDIT)
                await self.nav.prompt(turn)
            case _:
                hint = turn._("Please check the summary and choose below.")
                await self.nav.reprompt(turn, hint)

    async def _in_edit(self, turn: Turn) -> None:
        targets = {
            "edit:category": State.CATEGORY,
            "edit:description": State.DESCRIPTION,
            "edit:place": State.PLACE,
            "edit:photos": State.PHOTOS,
            "edit:identity": State.IDENTITY,
        }
        option = turn.event.option_id or ""
        if option == "edit:back":
            turn.go(State.CONFIRM)
        elif option in targets:
            data = turn.conv.data
            data["editing"] = True
            # "Back to the summary" from a half re-entered identity restores it as it was
            data["identity_before"] = {key: turn.draft.get(key) for key in _IDENTITY_FIELDS}
            turn.go(targets[option])
        else:
            await self.nav.reprompt(turn, turn._("Please choose with the buttons."))
            return
        await self.nav.prompt(turn)

    async def _in_voice_choice(self, turn: Turn) -> None:
        draft = turn.draft
        match turn.event.option_id:
            case "voice:keep" if draft.get("voice"):
                draft["voice_ok"] = draft["voice"]["sha256"]
                await self._register(turn)
            case "voice:text":
                # the voice stays until a text replaces it: "Back to the summary" keeps it
                turn.conv.data["editing"] = True
                turn.go(State.DESCRIPTION)
                await self.nav.prompt(turn)
            case _:
                await self.nav.reprompt(turn, turn._("Please choose with the buttons."))

    async def _back_to_summary(self, turn: Turn) -> None:
        """Leave a step opened from the summary unchanged (an identity half re-entered is
        restored as it was)."""
        data = turn.conv.data
        draft = data.get("draft", {})
        if turn.state not in EDIT_STEP_STATES or not data.get("editing"):
            await self.nav.earlier_message(turn)
            return
        if turn.state in _IDENTITY_STATES:
            draft.update(data.get("identity_before", {}))
        data.pop("editing", None)
        turn.go(State.CONFIRM)
        await self.nav.prompt(turn)

    # ----- registration ----------------------------------------------------------------------

    async def _register(self, turn: Turn) -> None:
        """Register the draft once: the complaint, the receipt, the operator card and this
        turn's conversation and replies are written in one transaction, and the draft's id is
        the complaint's unique key, so a "Send" that arrives twice registers nothing new."""
        draft = turn.draft
        if not draft.get("category") or not (draft.get("description") or draft.get("voice")):
            turn.say(turn._("Something is missing in the complaint. Let us start again."))
            await self.open(turn)
            return
        draft_key = draft.get("id") or secrets.token_hex(8)
        complaint_draft = _draft_from(draft)
        await self.nav.to_menu(turn)
        turn.conv.data["registered"] = draft_key
        complaints = self.services.complaints
        complaint, code, created = await complaints.register(
            turn.citizen,
            complaint_draft,
            turn.texts.locale,
            draft_key=draft_key,
            receipt_by_outbox=turn.queue,
            step=self.nav.step(turn),
        )
        if not created:
            turn.replies[:0] = [Reply(text=_already_registered(turn, complaint))]
            return
        log.info("complaint %s registered (%s)", complaint.reg_number, complaint.category)
        turn.committed = True
        receipt = receipt_text(turn.texts, complaint, code)
        turn.replies[:0] = [Reply(text=receipt)]

    async def _confirm_again(self, turn: Turn) -> None:
        """A "Send" pressed again after the complaint was registered: say which one it is."""
        draft_key = turn.conv.data.get("registered")
        complaint = await self.store.complaints.by_draft(draft_key=draft_key) if draft_key else None
        if complaint is None:
            await self.nav.earlier_message(turn)
            return
        turn.say(_already_registered(turn, complaint))
        await self.nav.prompt(turn)

    # ----- photos, videos and the voice description -------------------------------------------

    async def _took_photos(self, turn: Turn, prompt: bool = True) -> bool:
        """Add the event's attachments (photos, videos) to the draft. True when it had any."""
        if not turn.event.attachments:
            return False
        added = set()
        for attachment in turn.event.attachments:
            if attachment.kind == "video":
                answer, ok = await self._add_video(turn, attachment)
            elif attachment.kind in ("voice", "audio"):
                answer, ok = self._voice_elsewhere(turn), False
            else:
                answer, ok = await self._add_photo(turn, attachment)
            turn.say(answer)
            if ok:
                added.add(attachment.kind)
        if prompt and added and turn.state != State.PHOTOS:
            if "image" in added:
                turn.say(turn._("Photo noted. Now please continue:"))
            else:
                turn.say(turn._("Video noted. Now please continue:"))
        if prompt:
            await self.nav.prompt(turn)
        return True

    async def _add_photo(self, turn: Turn, attachment: Attachment) -> tuple[str, bool]:
        """Attach one photo to the draft: what to tell the citizen, and whether it was added."""
        _ = turn._
        limits = self.services.limits
        photos = turn.draft.setdefault("photos", [])
        if attachment.kind != "image":
            return _(
                "I can accept photos (JPEG, PNG, WEBP and similar) and short videos. Stickers "
                "and documents cannot be attached; please describe them in words."
            ), False
        if len(photos) >= limits.max_photos:
            return _("A complaint can have at most {max} photos; this one was not added.").format(
                max=limits.max_photos
            ), False
        if attachment.size and attachment.size > limits.max_photo_bytes:
            return self._too_large(turn), False
        try:
            stored = await self.services.media.save_photo(await attachment.fetch())
        except ImageRejected as rejected:
            if rejected.reason == TOO_LARGE:
                return self._too_large(turn), False
            if rejected.reason == NOT_AN_IMAGE:
                return _(
                    "This file is not a photo I can read. Please send a JPEG or PNG picture."
                ), False
            return _("This picture is too big in pixels. Please send a smaller photo."), False
        except Exception as exc:  # a download that failed must not end the dialog
            # a network failure, not a fault of ours: no traceback (it would hold the file URL)
            log.warning("photo download failed: %s", type(exc).__name__)
            return _("I could not download this photo. Please try sending it again."), False
        if any(photo["sha256"] == stored.sha256 for photo in photos):
            return _("This photo is already attached; it was not added again."), False
        photos.append({"sha256": stored.sha256, "path": stored.path})
        return _("Photo {count} of {max} attached.").format(
            count=len(photos), max=limits.max_photos
        ), True

    async def _add_video(self, turn: Turn, attachment: Attachment) -> tuple[str, bool]:
        """Attach one video, cleaned of metadata: what to tell the citizen, and whether it was
        added. Length and size are checked before downloading when the messenger states them."""
        _ = turn._
        limits = self.services.limits
        videos = turn.draft.setdefault("videos", [])
        if len(videos) >= limits.max_videos:
            if not limits.max_videos:
                return _(
                    "Videos are not accepted here; please send photos or describe it in words."
                ), False
            return _("A complaint can have at most {max} videos; this one was not added.").format(
                max=limits.max_videos
            ), False
        if attachment.seconds and attachment.seconds > limits.max_video_seconds + 0.5:
            return self._too_long_video(turn), False
        if attachment.size and attachment.size > limits.max_video_bytes:
            return self._too_large_video(turn), False
        try:
            stored = await self.services.media.save_video(
                await attachment.fetch(), max_seconds=limits.max_video_seconds
            )
        except (ImageRejected, RecordingRejected) as rejected:
            if rejected.reason == TOO_LARGE:
                return self._too_large_video(turn), False
            if rejected.reason == TOO_LONG:
                return self._too_long_video(turn), False
            return _(
                "I could not read this video. Please send an ordinary MP4 video from your "
                "phone's camera."
            ), False
        except Exception as exc:  # a failed download must not end the dialog
            log.warning("video download failed: %s", type(exc).__name__)
            return _("I could not download this video. Please try sending it again."), False
        if any(video["sha256"] == stored.sha256 for video in videos):
            return _("This video is already attached; it was not added again."), False
        videos.append({"sha256": stored.sha256, "path": stored.path, "seconds": stored.seconds})
        return _("Video {count} of {max} attached.").format(
            count=len(videos), max=limits.max_videos
        ), True

    async def _take_voice(self, turn: Turn, attachment: Attachment) -> None:
        """A voice message as the description: cleaned, stored, and the next step."""
        _ = turn._
        limits = self.services.limits
        hint = None
        if attachment.seconds and attachment.seconds > limits.max_voice_seconds + 0.5:
            hint = self._too_long_voice(turn)
        elif attachment.size and attachment.size > limits.max_video_bytes:
            hint = self._too_large_voice(turn)
        else:
            try:
                stored = await self.services.media.save_voice(
                    await attachment.fetch(), max_seconds=limits.max_voice_seconds
                )
            except (ImageRejected, RecordingRejected) as rejected:
                hint = {
                    TOO_LARGE: self._too_large_voice,
                    TOO_LONG: self._too_long_voice,
                }.get(rejected.reason, lambda t: None)(turn) or _(
                    "I could not play this voice message. Please record it again, or type "
                    "the description."
                )
            except Exception as exc:  # a failed download must not end the dialog
                log.warning("voice download failed: %s", type(exc).__name__)
                hint = _("I could not download this voice message. Please send it again.")
        if hint is not None:
            await self.nav.reprompt(turn, hint)
            return
        turn.draft["voice"] = {
            "sha256": stored.sha256,
            "path": stored.path,
            "seconds": stored.seconds,
        }
        turn.draft.pop("description", None)
        turn.say(_("Your voice message is saved as the description of the complaint."))
        await self._advance(turn, State.PLACE)

    def _voice_elsewhere(self, turn: Turn) -> str:
        return turn._(
            "A voice message can be the description of the complaint: send it at the "
            "description step (on the summary: ✏️ Change something → Description)."
        )

    def _too_long_video(self, turn: Turn) -> str:
        return turn._(
            "This video is longer than {seconds} seconds. Please send a shorter one, or cut it."
        ).format(seconds=self.services.limits.max_video_seconds)

    def _too_large_video(self, turn: Turn) -> str:
        megabytes = self.services.limits.max_video_bytes // (1024 * 1024)
        return turn._("This video is larger than {mb} MB. Please send a shorter one.").format(
            mb=megabytes
        )

    def _too_long_voice(self, turn: Turn) -> str:
        return turn._(
            "This voice message is longer than {minutes} min. Please say it more briefly, or "
            "type the description."
        ).format(minutes=max(1, self.services.limits.max_voice_seconds // 60))

    def _too_large_voice(self, turn: Turn) -> str:
        megabytes = self.services.limits.max_video_bytes // (1024 * 1024)
        text = turn._("This voice message is larger than {mb} MB. Please send a shorter one.")
        return text.format(mb=megabytes)

    def _too_large(self, turn: Turn) -> str:
        megabytes = self.services.limits.max_photo_bytes // (1024 * 1024)
        return turn._("This photo is larger than {mb} MB. Please send a smaller one.").format(
            mb=megabytes
        )


def _suggested_description(turn: Turn) -> str | None:
    """The problem typed at the menu, when it can serve as the description as it is."""
    typed = turn.draft.get("suggested") or ""
    fits = MIN_DESCRIPTION <= len(typed) <= MAX_DESCRIPTION and not turn.draft.get("description")
    return typed if fits else None


def _voice_unconfirmed(draft: dict) -> bool:
    """An anonymous report whose voice description the citizen has not yet chosen to keep."""
    voice = draft.get("voice")
    return bool(draft.get("anonymous") and voice and draft.get("voice_ok") != voice["sha256"])


def _voice_label(turn: Turn, voice: dict) -> str:
    return turn._("🎤 voice message, {seconds} s").format(seconds=round(voice["seconds"]))


def _already_registered(turn: Turn, complaint) -> str:
    return turn._(
        "This complaint is already registered: No. {number}. The receipt code was sent "
        "in this chat; if it did not arrive, ask for a new one in «My complaints»."
    ).format(number=complaint.reg_number)


def _draft_from(draft: dict) -> Draft:
    voice = draft.get("voice")
    videos = draft.get("videos", [])
    media = [MediaFile(VIDEO, v["sha256"], v["path"], v["seconds"]) for v in videos]
    if voice:
        media.append(MediaFile(VOICE, voice["sha256"], voice["path"], voice["seconds"]))
    return Draft(
        category=draft["category"],
        description=VOICE_DESCRIPTION if voice else draft["description"],
        address=draft.get("address"),
        latitude=draft.get("latitude"),
        longitude=draft.get("longitude"),
        photos=[Photo(p["sha256"], p["path"]) for p in draft.get("photos", [])],
        is_anonymous=bool(draft.get("anonymous", True)),
        full_name=draft.get("full_name"),
        phone=draft.get("phone"),
        contact_address=draft.get("contact_address"),
        media=media,
    )
