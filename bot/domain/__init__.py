"""The domain: complaints, receipts, questions, the FAQ catalogue, hearings, surveys, media
cleaning, the working-day calendar and the content files. No message composition lives here:
what a citizen or an operator reads is written in `bot.notices` and `bot.dialogs`."""
