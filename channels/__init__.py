"""Rasa input/output channels of the project, named by class path in credentials.yml."""
