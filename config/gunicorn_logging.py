"""gunicorn's own logs through the one redaction rule (RELIABILITY T46).

gunicorn writes its error log and its access log with handlers of its own, outside Django's
LOGGING. The access log holds every path and referrer, and some paths carry an integration
key (`/integration/<key>`, `/api/heartbeat/<key>`, ...) or a signed-link token
(`/ack/<token>/`): `deploy/gunicorn.conf.py` names this class as its `logger_class`, which
puts `config.redaction.RedactFilter` on each of gunicorn's handlers, so the access log can
stay on."""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.redaction import RedactFilter

# One instance: `setup` runs again on SIGHUP/USR1 and addFilter skips a filter already there.
_REDACT = RedactFilter()


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(_REDACT)
