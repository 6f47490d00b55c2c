"""ShopCare's Rasa channels, named by class path in credentials.yml: socket.io (agent messages marked for the widget),
Slack and Telegram connectors (subclasses of Rasa's own), and ``credentials.py``, which renders the effective
credentials file from the environment.

They live outside ``components/`` on purpose: that folder is part of the model's training fingerprint, and a change to
a connector must not force a retrain.
"""
