"""Settings, read from the environment or `.env` when the app starts (never at import time)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LOCALES = ("ky", "ru")

# The trust phones of the State Registration Service (seed 000, lines 1-8): only a labelled
# default; each deployment sets its own lines (municipal hotline, prosecutor's hotline, ...).
DEFAULT_HELP_PHONES = {
    "ky": "Мамлекеттик каттоо кызматынын ишеним телефондору|+996 (312) 62 41 40, 0800 800 55 10;"
    " Мамлекеттик каттоо кызматынын байланыш борбору|119",
    "ru": "Телефоны доверия Государственной регистрационной службы|+996 (312) 62 41 40,"
    " 0800 800 55 10; Колл-центр Государственной регистрационной службы|119",
}


def parse_phone_list(text: str) -> tuple[tuple[str, str], ...]:
    """`label|numbers; label|numbers` as (label, numbers) pairs; ValueError on a broken pair."""
    pairs = []
    for item in text.split(";"):
        if not item.strip():
            continue
        label, bar, numbers = item.partition("|")
        if not bar or not label.strip() or not numbers.strip() or "|" in numbers:
            raise ValueError(f"expected 'label|number', got {item.strip()!r}")
        pairs.append((label.strip(), numbers.strip()))
    if not pairs:
        raise ValueError("at least one 'label|number' pair is needed")
    return tuple(pairs)


def phone_lines(text: str) -> str:
    """The phone list as lines to show: `• label: numbers`."""
    return "\n".join(f"• {label}: {numbers}" for label, numbers in parse_phone_list(text))


class Settings(BaseSettings):
    """Every configuration key of the bot; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080

    operator_chat_id: int | None = None
    operator_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    operator_locale: str = "ru"

    database_path: Path = Path("data/bot.sqlite3")
    media_dir: Path = Path("data/media")
    default_locale: str = "ky"
    timezone: str = "Asia/Bishkek"

    answer_deadline_days: int = Field(14, ge=1, le=30)
    answer_deadline_working_days: bool = False
    deadline_remind_working_days: int = Field(2, ge=0, le=10)
    supervisor_chat_id: int | None = None
    digest_time: time = time(9, 0)
    digest_max_items: int = Field(30, ge=1, le=200)
    follow_up_days: int = Field(7, ge=1, le=60)
    max_photos: int = Field(5, ge=0, le=10)
    max_photo_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_videos: int = Field(3, ge=0, le=10)
    max_video_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_video_seconds: int = Field(60, ge=1, le=3600)
    max_voice_seconds: int = Field(300, ge=1, le=3600)
    outbox_interval_seconds: float = Field(2.0, gt=0)
    outbox_concurrency: int = Field(8, ge=1, le=256)
    telegram_messages_per_second: float = Field(25.0, gt=0)
    telegram_chat_messages_per_second: float = Field(1.0, gt=0)
    telegram_group_messages_per_minute: float = Field(20.0, gt=0)
    outbox_max_attempts: int = Field(8, ge=1)
    deadline_check_minutes: int = Field(10, ge=1)
    store_inline: bool = True
    flood_burst: int = Field(10, ge=1)
    flood_rate_per_second: float = Field(2.0, gt=0)
    content_dir: Path | None = None
    survey_invitation_delay_hours: float = Field(24.0, ge=0)
    survey_invitation_valid_days: int = Field(30, ge=1)
    survey_check_minutes: int = Field(15, ge=1)
    survey_min_cell: int = Field(5, ge=1)
    log_level: str = "INFO"

    municipality_name_ky: str = "жергиликтүү өз алдынча башкаруу органы"
    municipality_name_ru: str = "орган местного самоуправления"
    reception_schedule_ky: str = (
        "Жетекчилер жарандарды жумасына жок дегенде бир жолу кабыл алышат. Күнү жана сааты "
        "мекеменин жарыя тактасында илинет."
    )
    reception_schedule_ru: str = (
        "Руководители принимают граждан не реже одного раза в неделю. День и часы приёма "
        "вывешены на доске объявлений учреждения."
    )
    help_phones_ky: str = DEFAULT_HELP_PHONES["ky"]
    help_phones_ru: str = DEFAULT_HELP_PHONES["ru"]

    public_base_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base: str | None = None
    twilio_webhook_path: str = "/twilio/whatsapp"
    twilio_status_path: str = "/twilio/status"
    twilio_media_path: str = "/twilio/media"
    twilio_messages_per_second: float = Field(10.0, gt=0)
    twilio_template_status_ky: str | None = None
    twilio_template_status_ru: str | None = None
    hearing_reminders: str = "2d,2h"
    whatsapp_daily_conversations: int = Field(1000, ge=1)
    broadcast_batch_size: int = Field(500, ge=1, le=10_000)
    twilio_template_hearing_ky: str | None = None
    twilio_template_hearing_ru: str | None = None
    twilio_template_reminder_ky: str | None = None
    twilio_template_reminder_ru: str | None = None
    twilio_template_survey_ky: str | None = None
    twilio_template_survey_ru: str | None = None

    @field_validator("operator_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("default_locale", "operator_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"locale must be one of {SUPPORTED_LOCALES}")
        return value

    @field_validator("help_phones_ky", "help_phones_ru")
    @classmethod
    def _phone_pairs(cls, value: str) -> str:
        parse_phone_list(value)
        return value

    @field_validator("hearing_reminders")
    @classmethod
    def _reminder_offsets(cls, value: str) -> str:
        from bot.domain.hearings import parse_offsets

        parse_offsets(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("twilio_webhook_path", "twilio_status_path", "twilio_media_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("a webhook path starts with '/'")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secrets(self) -> list[SecretStr]:
        """Every secret that is set: what the logs must never show."""
        found = (self.telegram_bot_token, self.telegram_webhook_secret, self.twilio_auth_token)
        return [secret for secret in found if secret is not None]

    @property
    def whatsapp_enabled(self) -> bool:
        """Twilio is configured well enough to receive and send WhatsApp messages."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and self.twilio_whatsapp_from
            and self.public_base_url
        )

    def per_locale(self, prefix: str) -> dict[str, str]:
        """`{locale: value}` of the keys `<prefix>_ky`, `<prefix>_ru` (e.g. municipality_name)."""
        return {locale: getattr(self, f"{prefix}_{locale}") for locale in SUPPORTED_LOCALES}

    def help_phone_lines(self) -> dict[str, str]:
        """`{locale: "• label: numbers" lines}` of HELP_PHONES_KY/RU, for Help and the FAQ."""
        texts = self.per_locale("help_phones")
        return {locale: phone_lines(text) for locale, text in texts.items()}

    def whatsapp_templates(self) -> dict[tuple[str, str], str]:
        """Approved Content templates by (template group, locale); unset ones are left out."""
        found = {}
        for group in ("status", "hearing", "reminder", "survey"):
            for locale, sid in self.per_locale(f"twilio_template_{group}").items():
                if sid:
                    found[group, locale] = sid
        return found
