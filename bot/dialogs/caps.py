"""What a channel can show, declared by the channel and asked by the dialogs.

The core never asks which messenger a citizen writes from, only what it can do: show buttons,
number the options (so a typed "2" chooses the second), offer a "share my phone number" or
"send my location" button, deliver a document.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelCaps:
    buttons: bool = True  # options are pressed as buttons
    numbered_options: bool = False  # options are listed as "1. …": a typed number chooses one
    contact_button: bool = False  # a "share my phone number" button (the console's /contact)
    location_button: bool = False  # a "send my location" button (the console's /location)
    documents: bool = False  # a reply may carry a document


# What the channels of this bot declare (WhatsApp sends documents as media, the console saves
# them and prints the path).
TELEGRAM = ChannelCaps(buttons=True, contact_button=True, location_button=True, documents=True)
WHATSAPP = ChannelCaps(buttons=False, numbered_options=True, documents=True)
CONSOLE = ChannelCaps(
    buttons=False, numbered_options=True, contact_button=True, location_button=True, documents=True
)
DEFAULT_CAPS = {"telegram": TELEGRAM, "whatsapp": WHATSAPP, "console": CONSOLE}
