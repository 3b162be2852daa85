"""The container HEALTHCHECK: GET /healthz on this container's gunicorn, exit 0 on 200.

Standard library only (the image has no curl). The Host header is the first ALLOWED_HOSTS
entry, so a production ALLOWED_HOSTS (not 127.0.0.1) still passes Django's host check;
redirects are not followed (SECURE_SSL_REDIRECT must not make a healthy process look dead)."""

import http.client
import os
import sys

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
port = int(bind.rsplit(":", 1)[1])
hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
host = hosts[0].lstrip(".") if hosts and hosts[0] != "*" else "localhost"
try:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    conn.request("GET", "/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"})
    status = conn.getresponse().status
except OSError as exc:
    print(f"healthz: {exc}")
    sys.exit(1)
print(f"healthz: {status}")
sys.exit(0 if status == 200 else 1)
