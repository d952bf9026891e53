"""Checks on the project itself: catalogs, configuration keys, and the shape of the core."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def _catalog(locale: str):
    with open(ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_message_is_translated_in_both_languages():
    for locale in ("ky", "ru"):
        missing = [m.id for m in _catalog(locale) if m.id and (not m.string or m.fuzzy)]
        assert missing == [], f"{locale}: untranslated {missing}"


def test_placeholders_match_in_translations():
    for locale in ("ky", "ru"):
        for message in _catalog(locale):
            if message.id:
                expected = sorted(re.findall(r"\{[^}]*\}", message.id))
                assert sorted(re.findall(r"\{[^}]*\}", message.string)) == expected, message.id


def test_catalogs_hold_every_message_in_the_code(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "N_",
            "-o",
            str(template),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(template, "rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    for locale in ("ky", "ru"):
        in_catalog = {m.id for m in _catalog(locale) if m.id}
        assert in_code - in_catalog == set(), f"{locale} lacks: {in_code - in_catalog}"


def test_dialog_core_imports_no_messenger():
    for path in (ROOT / "bot" / "dialogs").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("aiogram", "twilio", "bot.handlers")), (path, name)


def test_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    keys = re.findall(r"^([A-Z_]+)=", text, flags=re.M)
    assert sorted(keys) == sorted(name.upper() for name in Settings.model_fields)
    lines = text.splitlines()
    for key in keys:
        index = next(i for i, line in enumerate(lines) if line.startswith(key + "="))
        assert lines[index - 1].startswith("#"), f"{key} has no comment above it"


def test_env_example_parses_as_settings():
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings.telegram_bot_token is None and settings.operator_chat_id is None
    assert settings.answer_deadline_days == 14 and settings.default_locale == "ky"


def test_operator_ids_are_read_from_a_list(monkeypatch):
    monkeypatch.setenv("OPERATOR_IDS", "12, 34;56")
    assert Settings(_env_file=None).operator_ids == frozenset({12, 34, 56})
