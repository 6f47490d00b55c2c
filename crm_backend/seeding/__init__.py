"""Seeding: the deterministic demo and training data of the CRM.

``seed`` writes a database (the ``crm seed`` command), ``population`` generates the synthetic customers and their
history (with the latent churn process), ``personas`` the named demo customers, ``catalogue`` the products,
``seed_data`` and ``seed_support`` texts and support history, ``demo`` the console's demo agents and escalations,
``shipping`` the one shipping-fee rule every seeded order follows.
"""
