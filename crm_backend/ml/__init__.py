"""Churn model training from the CRM's own database (the pure model code is in ``shopcare_core.ml``)."""
