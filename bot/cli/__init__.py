"""Command-line modes of `python -m bot` beyond running the bot: organisers' hearings,
announcements and broadcasts, and the survey report."""
