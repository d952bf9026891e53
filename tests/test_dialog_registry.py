"""The shape of the dialog core: one module per dialog, assembled by a registry.

- No dialog module imports another (they reach each other through the kernel), and no module
  of `bot/dialogs/` is part of an import cycle.
- Every state has one owner; the menu, the commands and the option prefixes come out of the
  dialogs' declarations; two dialogs claiming the same thing fail at start-up.
- The core asks what a channel can do (`ChannelCaps`), never which channel it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.dialogs.caps import ChannelCaps
from bot.dialogs.dialog import Command, Dialog, MenuEntry, Route
from bot.dialogs.states import State
from tests.conftest import Chat, start_in

ROOT = Path(__file__).resolve().parent.parent
DIALOGS_DIR = ROOT / "bot" / "dialogs"
EXPECTED_DIALOG_MODULES = {"start", "menu", "complaint", "check", "mine", "faq_flow"} | {
    "subscription",
    "survey",
    "hearings",
    "topics",
    "follow_up",
    "thread",
}


def _imported(path: Path, package: str) -> set[str]:
    """Modules of `package` that the file imports (TYPE_CHECKING imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved inside the package
                base = f"{package}.{base}" if base else package
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name.removeprefix(package + ".").split(".")[0] for name in names}
        found = {name for name in found if (path.parent / f"{name}.py").exists()}
    return found - {path.stem}


def _is_dialog_module(path: Path) -> bool:
    """The module defines a subclass of `Dialog`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.ClassDef)
        and any(getattr(base, "id", getattr(base, "attr", None)) == "Dialog" for base in node.bases)
        for node in ast.walk(tree)
    )


def dialog_imports(folder: Path, package: str) -> list[tuple[str, str]]:
    """(dialog module, dialog module it imports) pairs: each one breaks the rule."""
    dialogs = {path.stem for path in folder.glob("*.py") if _is_dialog_module(path)}
    return sorted(
        (path.stem, imported)
        for path in folder.glob("*.py")
        if path.stem in dialogs
        for imported in _imported(path, package) & dialogs
    )


def import_cycles(folder: Path, package: str) -> list[list[str]]:
    """Cycles in the import graph of the package's modules."""
    graph = {path.stem: _imported(path, package) for path in folder.glob("*.py")}
    cycles, done = [], set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycles.append([*trail[trail.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*trail, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return cycles


def test_each_dialog_is_a_module_and_none_imports_another():
    dialogs = {path.stem for path in DIALOGS_DIR.glob("*.py") if _is_dialog_module(path)}
    assert dialogs == EXPECTED_DIALOG_MODULES
    assert dialog_imports(DIALOGS_DIR, "bot.dialogs") == []


def test_the_dialog_core_has_no_import_cycle():
    assert import_cycles(DIALOGS_DIR, "bot.dialogs") == []
    # the kernel is imported by nobody inside the core (the app builds it)
    users = [p.stem for p in DIALOGS_DIR.glob("*.py") if "engine" in _imported(p, "bot.dialogs")]
    assert users == []


def test_the_architecture_checks_can_fail(tmp_path):
    """Two dialogs importing each other: both the rule and the cycle check see it."""
    (tmp_path / "dialog.py").write_text("class Dialog: ...\n")
    (tmp_path / "first.py").write_text(
        "from pkg.dialog import Dialog\nfrom pkg.second import Second\n\nclass First(Dialog): ...\n"
    )
    (tmp_path / "second.py").write_text(
        "from typing import TYPE_CHECKING\nfrom pkg.dialog import Dialog\n"
        "if TYPE_CHECKING:\n    from pkg import first\n\nclass Second(Dialog): ...\n"
    )
    assert dialog_imports(tmp_path, "pkg") == [("first", "second"), ("second", "first")]
    assert ["first", "second", "first"] in import_cycles(tmp_path, "pkg")


def test_every_state_has_one_owner_with_a_prompt(app):
    registry = app.engine.registry
    assert set(registry.handlers) == set(State) == set(registry.prompts)
    owners = {dialog.name: set(dialog.states) for dialog in registry.dialogs.values()}
    assert owners["complaint"] >= {State.CATEGORY, State.CONFIRM, State.EDIT}
    assert owners["faq"] == {s for s in State if s.startswith("faq.")}
    assert State.UNFINISHED not in set().union(*owners.values())  # the kernel's own


def test_menu_and_commands_come_from_the_dialogs(app):
    registry = app.engine.registry
    assert [entry.option_id for entry in registry.menu_entries] == [
        "menu:complaint",
        "menu:mine",
        "menu:check",
        "menu:faq",
        "menu:survey",
        "menu:hearings",
        "menu:announcements",
        "menu:help",
        "menu:language",
    ]
    leaving = {name for name, entry in registry.commands.items() if entry.leaves}
    staying = {name for name, entry in registry.commands.items() if not entry.leaves}
    assert leaving == {"/start", "/menu", "/complaint", "/new", "/my", "/mycomplaints"} | {
        "/check",
        "/faq",
        "/questions",
        "/announcements",
        "/subscribe",
        "/survey",
        "/rate",
        "/hearings",
        "/topics",
    }
    assert staying == {"/cancel", "/language", "/help", "/stop", "/unsubscribe"}


async def test_the_menu_shows_a_registered_dialogs_entry(app, chat):
    """A new feature adds its menu entry and command without editing the menu or the kernel."""

    class Weather(Dialog):
        name = "weather"
        commands = {"/weather": Command("open")}
        menu = MenuEntry("menu:weather", "Weather", order=15)

        async def open(self, turn):
            turn.say("Sunny.")
            await self.nav.to_menu(turn)

    app.engine.add_dialog(Weather)
    await start_in(chat)
    assert chat.options[:2] == ["menu:complaint", "menu:weather"]
    await chat.press("menu:weather")
    assert chat.replies[0].text == "Sunny."
    await chat.command("/weather")
    assert chat.replies[0].text == "Sunny."


@pytest.mark.parametrize(
    "dialog_body",
    [
        {"states": {State.MENU: "open"}},  # a state the menu owns
        {"commands": {"/help": Command("open")}},
        {"routes": (Route("receipt:", "open"),)},  # overlaps "receipt:new:"
        {"routes": (Route("poll", "open", pushed=True),)},  # a pushed route names a prefix
    ],
)
def test_two_dialogs_claiming_one_thing_fail_at_start_up(app, dialog_body):
    greedy = type("Greedy", (Dialog,), {"name": "greedy", "open": lambda self, turn: None})
    for key, value in dialog_body.items():
        setattr(greedy, key, value)
    with pytest.raises(ValueError):
        app.engine.add_dialog(greedy)


def test_a_declared_method_that_does_not_exist_fails_at_start_up(app):
    typo = type("Typo", (Dialog,), {"name": "typo", "commands": {"/typo": Command("opne")}})
    with pytest.raises(TypeError, match="opne"):
        app.engine.add_dialog(typo)


async def test_numbered_options_follow_the_channels_capabilities(app):
    """A channel the core has never heard of, declared with numbered options: "2" chooses."""
    app.engine.channel_caps["sms"] = ChannelCaps(buttons=False, numbered_options=True)
    sms = Chat(app.engine, user_key="+996700000001", channel="sms")
    await sms.text("Салам")
    await sms.text("2")  # the language prompt: 1. Кыргызча 2. Русский
    assert sms.options[:1] == ["sub:yes"]
    buttons = Chat(app.engine, user_key="42", channel="telegram")
    await buttons.text("Салам")
    await buttons.text("2")  # buttons: a typed "2" is not an option
    assert buttons.options == ["lang:ky", "lang:ru"]


async def test_the_share_contact_button_follows_the_channels_capabilities(app):
    app.engine.channel_caps["sms"] = ChannelCaps(buttons=False, numbered_options=True)
    app.engine.channel_caps["kiosk"] = ChannelCaps(contact_button=True)
    asked = {}
    for channel in ("sms", "kiosk"):
        chat = Chat(app.engine, user_key="1", channel=channel)
        await start_in(chat)
        await chat.press("menu:complaint")
        await chat.press("cat:water")
        await chat.text("Третий день нет воды в колонке на улице Манаса")
        await chat.press("place:skip")
        await chat.press("photos:done")
        await chat.press("id:named")
        await chat.text("Асанова Айгүл")
        asked[channel] = chat.replies[-1].ask_contact
    assert asked["sms"] is None and asked["kiosk"]
