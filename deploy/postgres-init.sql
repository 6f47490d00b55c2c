-- The CRM's database is POSTGRES_DB; Rasa's tracker store gets its own (as in make run-scaled).
CREATE DATABASE shopcare_tracker OWNER shopcare;
