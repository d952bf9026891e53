"""Command-line modes of `python -m bot` beyond running the bot."""
