"""The agents' console: server-rendered pages (Jinja2, autoescaped) under ``/console``, mounted on the CRM app by
``crm_backend.console.install.install``."""
