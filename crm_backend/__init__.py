"""CRM service of the customer-service assistant: database, business rules, REST API, seed data."""
