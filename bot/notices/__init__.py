"""Notices rendered at send time: one renderer per outbox kind, reading current data and the
recipient's current language. An outbox row holds only the kind, the ids and the recipient."""
