"""Telegram: the citizens' router, the journaled inbox (polling and webhook), rendering of replies
into Bot API calls, and the operator group."""
