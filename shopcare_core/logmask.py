"""PII and secret masking for every log record of a process, and a launcher that installs it before a CLI runs.

The masking sits in the log-record factory, so it covers every logger and every handler (Rasa's, Sanic's access log,
uvicorn's, httpx's request lines) whatever the libraries configure later. The CRM installs it in ``crm serve``, the
action server in its launcher (``python -m actions.server``); the Rasa server is started through this module's
launcher, which masks the secrets named on the command line too (``--auth-token``)::

    python -m shopcare_core.logmask rasa run --auth-token ... ...
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from shopcare_core.pii import Masker

SECRET_FLAGS = ("--auth-token", "--jwt-secret")
_installed: Masker | None = None


def install(extra_secrets: Iterable[str] = ()) -> Masker:
    """Wrap the process's log-record factory so that message, arguments and traceback text are masked."""
    global _installed
    masker = Masker.from_env(extra_secrets)
    if _installed is not None:
        _installed.secrets = sorted(set(_installed.secrets) | set(masker.secrets), key=len, reverse=True)
        return _installed
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # mask the parts, keep their shape: some formatters unpack ``args`` (uvicorn's access log)
        if isinstance(record.msg, str):
            record.msg = masker.text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                masker.text(a) if isinstance(a, str) else _masked_object(a, masker) for a in record.args
            )
        elif isinstance(record.args, dict):
            record.args = {
                k: masker.text(v) if isinstance(v, str) else _masked_object(v, masker) for k, v in record.args.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = masker.text(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = masker
    return masker


def _masked_object(value: object, masker: Masker) -> object:
    """Numbers stay numbers (``%d``); anything else that would print PII (exceptions, URLs, dicts) becomes masked text."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return masker.text(str(value))


def secrets_in_argv(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in SECRET_FLAGS]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "rasa":
        raise SystemExit("usage: python -m shopcare_core.logmask rasa <rasa arguments>")
    install(secrets_in_argv(args))
    from rasa.__main__ import main as rasa_main

    sys.argv = args
    rasa_main()


if __name__ == "__main__":
    main()
