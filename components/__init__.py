"""Custom Rasa NLU components of the project (named by class path in config.yml)."""
