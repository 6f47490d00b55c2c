"""Business logic: plain functions taking ``session=`` keyword-only; rule violations raise DomainError."""
