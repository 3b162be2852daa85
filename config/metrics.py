"""`/metrics` in Prometheus text format.

Everything but the ingest latency histogram is read from the database at scrape time by one
collector, so any number of gunicorn workers need no shared state and every scrape agrees:
a handful of grouped queries, each over an indexed column and a bounded window. The ingest
histogram (integrations/doors.py) is observed in the answering process only.

Secure by default: with neither METRICS_TOKEN nor METRICS_ALLOWED_CIDRS set, /metrics is 404."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from escalation.clock import db_now
from escalation.engine import TICK_SECONDS_CACHE_KEY, TICK_STATE_NAME
from escalation.models import EscalationTickState, Notification
from incidents.models import Event, Incident

CELERY_QUEUE = "celery"  # Celery's default queue; Vigil routes every task there
OPEN = (Incident.Status.TRIGGERED, Incident.Status.ACKNOWLEDGED)


class VigilCollector:
    """Gauges computed from the tables when scraped."""

    def collect(self):
        now = db_now()
        window = timedelta(seconds=settings.METRICS_WINDOW_SECONDS)
        since = now - window

        events = GaugeMetricFamily(
            "vigil_events_recent", f"Events received in the last {settings.METRICS_WINDOW_SECONDS} s, "
            "by door (format) and outcome.", labels=["door", "outcome"])
        rows = (Event.objects.filter(received_at__gte=since).values_list("format", "outcome")
                .annotate(n=Count("id")).order_by())
        for door, outcome, n in rows:
            events.add_metric([door, outcome], n)
        yield events

        incidents = GaugeMetricFamily(
            "vigil_open_incidents", "Open (triggered or acknowledged) incidents by team and severity.",
            labels=["team", "severity", "status"])
        rows = (Incident.objects.filter(status__in=OPEN).values_list("team__name", "severity", "status")
                .annotate(n=Count("id")).order_by())
        for team, severity, status, n in rows:
            incidents.add_metric([team or "", severity, status], n)
        yield incidents

        oldest = Incident.objects.filter(
            status=Incident.Status.TRIGGERED, next_escalation_at__lt=now, escalation_held_reason="",
        ).aggregate(oldest=Min("next_escalation_at"))["oldest"]
        yield GaugeMetricFamily(
            "vigil_escalation_lag_seconds", "Now minus the oldest overdue escalation step (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0.0)

        sent = GaugeMetricFamily(
            "vigil_notifications_recent", f"Notifications due in the last {settings.METRICS_WINDOW_SECONDS} s, "
            "by channel and status.", labels=["channel", "status"])
        retried = GaugeMetricFamily(
            "vigil_notification_retries_recent", "Retries (attempts after the first) of those notifications, "
            "by channel.", labels=["channel"])
        # status IN (every status) lets the (status, due_at) index bound the window.
        rows = (Notification.objects.filter(status__in=Notification.Status.values, due_at__gte=since,
                                            due_at__lte=now).values_list("channel", "status")
                .annotate(n=Count("id"), tries=Sum("attempts")).order_by())
        retries: dict[str, int] = {}
        for channel, status, n, tries in rows:
            sent.add_metric([channel, status], n)
            retries[channel] = retries.get(channel, 0) + max((tries or 0) - n, 0)
        for channel, n in retries.items():
            retried.add_metric([channel], n)
        yield sent
        yield retried

        state = EscalationTickState.objects.filter(name=TICK_STATE_NAME).first()
        if state is not None and state.last_tick_at is not None:
            yield GaugeMetricFamily("vigil_beat_tick_age_seconds", "Seconds since the last escalation tick finished.",
                                    value=(now - state.last_tick_at).total_seconds())

        seconds = cache.get(TICK_SECONDS_CACHE_KEY)
        if seconds is not None:
            yield GaugeMetricFamily("vigil_beat_tick_duration_seconds", "How long the last escalation tick took.",
                                    value=float(seconds))

        depth = queue_depth()
        if depth is not None:
            family = GaugeMetricFamily("vigil_celery_queue_depth", "Messages waiting in the Celery queue "
                                       "(Redis broker).", labels=["queue"])
            family.add_metric([CELERY_QUEUE], depth)
            yield family


def queue_depth() -> int | None:
    """LLEN of the default queue on a Redis broker; None (the family is left out) for another
    broker or when Redis does not answer within its socket timeout."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    timeout = settings.REDIS_SOCKET_TIMEOUT
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return int(client.llen(CELERY_QUEUE))
    except redis.RedisError:
        return None
    finally:
        client.close()


_DB_REGISTRY = CollectorRegistry(auto_describe=False)
_DB_REGISTRY.register(VigilCollector())


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        presented = request.headers.get("Authorization", "")
        if hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_CIDRS)


@never_cache
def metrics(request):
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_CIDRS:
        raise Http404("metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_CIDRS")
    if not allowed(request):
        return HttpResponseForbidden("forbidden")
    body = generate_latest(REGISTRY) + generate_latest(_DB_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
