"""The console chat: one citizen and the operator commands in a terminal, on the real store."""
