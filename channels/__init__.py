"""ShopCare's Slack and Telegram connectors: subclasses of Rasa's own, named by class path in credentials.yml.

They live outside ``components/`` on purpose: that folder is part of the model's training fingerprint, and a change to
a connector must not force a retrain. ``credentials.py`` renders the effective credentials file from the environment.
"""
