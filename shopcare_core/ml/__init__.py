"""Pure model code: features in, scores out (no database session, no HTTP). Training data is loaded by the CRM."""
