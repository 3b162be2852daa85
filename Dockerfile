# Vigil's one image: web (gunicorn), worker and beat (celery) all run it; compose.yaml says which.
# Build: docker build -t vigil .   Run: docker compose up (compose.yaml, settings from .env).

# htmx from the npm registry (package-lock.json), never a CDN and never copied into the repository.
FROM node:22-slim AS static
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    GUNICORN_BIND=0.0.0.0:8000 \
    LOG_FORMAT=json
WORKDIR /app

RUN groupadd --system --gid 10001 vigil \
 && useradd --system --uid 10001 --gid vigil --home-dir /app --shell /usr/sbin/nologin vigil

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=vigil:vigil . .
COPY --from=static --chown=vigil:vigil /build/node_modules ./node_modules
# Static files collected at build (whitenoise serves var/staticfiles with DEBUG=false).
# DEBUG=true only for this one command, so no SECRET_KEY is needed, or baked in, at build.
RUN DEBUG=true python manage.py collectstatic --noinput \
 && test -s var/staticfiles/htmx/htmx.min.js && test -s var/staticfiles/vigil/app.css \
 && chown -R vigil:vigil var

USER vigil
EXPOSE 8000
# /healthz touches no database: "the process answers". Host: the first ALLOWED_HOSTS entry.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "deploy/healthcheck.py"]
CMD ["gunicorn", "config.wsgi", "--config", "deploy/gunicorn.conf.py"]
