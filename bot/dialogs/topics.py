"""The topics a citizen wants announcements about (all, budget, tariffs, municipal property,
land and building, other: `bot/content/topics.json`), chosen and changed at any time.

Each topic is a button that switches it on or off; "All topics" clears the others. Choosing a
topic also means agreeing to announcements. STOP stays the one word that stops them all.
"""

from __future__ import annotations

from bot.dialogs.dialog import Command, Dialog
from bot.dialogs.events import Option, Reply
from bot.dialogs.states import State
from bot.dialogs.turn import Turn
from bot.domain.hearings import ALL_TOPICS, load_topics

TOPIC_PREFIX = "topic:"
CHOSEN_KEY = "topics"


class TopicsDialog(Dialog):
    name = "topics"
    states = {State.TOPICS: "_in_topics"}
    prompts = {State.TOPICS: "_prompt_topics"}
    commands = {"/topics": Command("open")}
    light_states = frozenset({State.TOPICS})

    def __init__(self, services, nav) -> None:
        super().__init__(services, nav)
        self.topics = load_topics(services.content_dir)

    async def open(self, turn: Turn) -> None:
        chosen = await self.store.hearings.topics_of(citizen_id=turn.citizen.id)
        turn.conv.data[CHOSEN_KEY] = sorted(chosen)
        turn.go(State.TOPICS)
        await self.nav.prompt(turn)

    def _prompt_topics(self, turn: Turn) -> Reply:
        _ = turn._
        chosen = set(turn.conv.data.get(CHOSEN_KEY) or [ALL_TOPICS])
        locale = turn.texts.locale
        options = tuple(
            Option(
                f"{TOPIC_PREFIX}{topic.id}",
                ("✅ " if topic.id in chosen else "▫️ ") + topic.label(locale),
            )
            for topic in self.topics
        )
        return Reply(
            text=_(
                "Choose the topics you want announcements about: press a topic to switch it "
                "on or off, then press Save."
            ),
            options=(*options, Option("topics:save", _("💾 Save"))),
        )

    async def _in_topics(self, turn: Turn) -> None:
        option = turn.event.option_id or ""
        known = {topic.id for topic in self.topics}
        chosen = set(turn.conv.data.get(CHOSEN_KEY) or [ALL_TOPICS])
        topic = option.removeprefix(TOPIC_PREFIX)
        if option.startswith(TOPIC_PREFIX) and topic in known:
            if topic == ALL_TOPICS:
                chosen = {ALL_TOPICS}
            else:
                chosen ^= {topic}
                chosen.discard(ALL_TOPICS)
                chosen = chosen or {ALL_TOPICS}
            turn.conv.data[CHOSEN_KEY] = sorted(chosen)
            await self.nav.prompt(turn)
            return
        if option != "topics:save":
            await self.nav.reprompt(turn, turn._("Please choose one of the options below."))
            return
        turn.conv.data.pop(CHOSEN_KEY, None)
        await self.store.hearings.set_topics(citizen_id=turn.citizen.id, topics=chosen)
        await self.store.citizens.set_announcements(
            citizen_id=turn.citizen.id, wanted=True, now=self.clock.now()
        )
        labels = [t.label(turn.texts.locale) for t in self.topics if t.id in chosen]
        turn.say(
            turn._(
                "Saved. You will receive announcements on these topics: {topics}. "
                "To stop all announcements, send STOP."
            ).format(topics=", ".join(labels))
        )
        await self.nav.to_menu(turn)
