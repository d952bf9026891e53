"""WhatsApp through Twilio: the journaled inbox and status callbacks, and the channel that turns
rendered replies into Twilio messages, templates and expiring media links."""
