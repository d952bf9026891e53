#!/usr/bin/env bash
# Set up (see setup.sh) and run the bot. Without TELEGRAM_BOT_TOKEN this opens a console chat.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m bot "$@"
