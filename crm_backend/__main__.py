"""``python -m crm_backend <command>``."""

from crm_backend.cli import main

raise SystemExit(main())
