"""Code that more than one ShopCare process imports: the Rasa server (components/), the action server (actions/)
and the CRM (crm_backend/).

It imports none of them. Nothing here opens a database, speaks HTTP or loads a model at import time:
- ``escalation``: the one escalation decision, the conversation signals it reads, the must-escalate triggers, and
  the escalation request (packet) built from a conversation;
- ``ml``: the pure model code (sentiment, TF-IDF, churn features and scoring, customer value): features in, scores out;
- ``grant``: reading an identity grant's claims (the CRM alone checks its signature);
- ``pii`` and ``logmask``: masking of personal data and secrets in events and log lines;
- ``net``: small network helpers.
"""
