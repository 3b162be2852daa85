"""Vigil's gunicorn settings: `gunicorn config.wsgi -c deploy/gunicorn.conf.py`.

In production gunicorn listens on loopback only, behind nginx (deploy/nginx.conf), which
buffers every request whole before passing it on: a slow client holds an nginx connection,
never one of these threads. Served bare (`make run`), gunicorn is for a trial only."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# gthread, 2 processes x 4 threads: measured against sync x4 / x6 and gthread 3 x 2 and 5 x 1
# on 2 cores behind nginx (`make bench`, docs/performance.md), none served more ingest per
# CPU second; sync workers also close every connection, so nginx's upstream keepalive is lost
# and each request pays a new connection. Threads share one process's key cache, Redis and
# PostgreSQL connections' warm state. GUNICORN_WORKER_CLASS is for such comparisons.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request that takes longer than this is a bug: the worker is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# nginx keeps idle upstream connections open (`keepalive` in its upstream block).
keepalive = 30
# Only nginx on this host may set X-Forwarded-Proto.
forwarded_allow_ips = "127.0.0.1"
limit_request_line = 8190
# The access log is on (stdout) and the error log on stderr, both through the one redaction
# rule: paths carry integration keys and signed-link tokens, referrers carry links
# (config/gunicorn_logging.py, RELIABILITY T46).
logger_class = "config.gunicorn_logging.RedactingLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# Client, request line, status, bytes, milliseconds, referrer, user agent, and the request id
# that ties the line to the application's own lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" %({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
