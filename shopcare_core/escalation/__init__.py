"""The escalation decision (pure) and how the conversation's signals are read from Rasa events."""
