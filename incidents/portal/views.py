"""The responder portal's incident pages: the live list, one incident, and its actions.

Views read through `Incident.objects.visible_to(user)`, so another team's incident is a
404 whether it is looked at or acted on. State changes go through `incidents.actions`,
the same functions the REST API and the pipeline use. Every query runs here, in a fixed
number whatever the data: templates only format what the view loaded."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents import actions
from incidents.models import Event, Incident
from incidents.portal.display import (
    display_images,
    display_links,
    labels_of,
    pretty_body,
    pretty_json,
    safe_http_url,
    still_firing,
)
from incidents.portal.filters import (
    SEVERITY_CHOICES,
    STATUS_CHOICES,
    IncidentFilters,
    open_first,
    status_counts,
)
from incidents.portal.maintenance import maintenance_banner, maintenance_hold
from incidents.portal.reassign import reassign_targets, resolve_target
from incidents.timeline import build_timeline
from integrations.models import IntegrationKey
from oncall.models import Team

PAGE_SIZE = 25
# The list and an open incident's page refresh themselves this often (htmx polling).
REFRESH_SECONDS = 5
NOTE_MAX = 10_000


def _visible(user):
    return Incident.objects.visible_to(user)


def _incident_or_404(user, pk: int) -> Incident:
    """The incident if the user may see it; otherwise 404, so guessing ids learns nothing."""
    return get_object_or_404(
        _visible(user).select_related(
            "team", "integration_key", "acknowledged_by", "resolved_by", "escalation_policy"
        ),
        pk=pk,
    )


def _signed_in_or_sign_in_page(view):
    """login_required, except that a live-refresh request of a signed-out browser gets the
    whole page sent to sign-in (HX-Redirect), instead of a login form swapped into the page.
    After signing in they come back to the page they were on (htmx names it, same origin
    only), not to the partial it was polling."""
    protected = login_required(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.htmx and not request.user.is_authenticated:
            back_to = request.htmx.current_url_abs_path or request.path
            return HttpResponseClientRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': back_to})}")
        return protected(request, *args, **kwargs)

    return wrapper


@_signed_in_or_sign_in_page
@require_GET
def incident_list(request):
    filters = IncidentFilters.from_query(request.GET)
    visible = _visible(request.user)
    counts = status_counts(filters.scope(visible))
    rows = open_first(filters.apply(visible)).select_related("team", "integration_key")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    context = {
        "section": "incidents",
        "filters": filters,
        "counts": counts,
        "page": page,
        "incidents": page.object_list,
        "refresh_seconds": REFRESH_SECONDS,
        "maintenance_banner": maintenance_banner(request.user),
        "refresh_url": "?" + filters.querystring(page=page.number if page.number > 1 else ""),
        "prev_url": "?" + filters.querystring(page=page.previous_page_number()) if page.has_previous() else "",
        "next_url": "?" + filters.querystring(page=page.next_page_number()) if page.has_next() else "",
        "status_tabs": [
            (value, label, counts[value or "all"], "?" + filters.querystring(status=value))
            for value, label in [
                ("", "All"), ("open", "Open"), ("triggered", "Triggered"),
                ("acknowledged", "Acknowledged"), ("resolved", "Resolved"),
            ]
        ],
    }
    if request.htmx:
        # The polling request swaps only the results; the filter form keeps its state.
        response = render(request, "incidents/_results.html", context)
    else:
        context.update(
            teams=list(Team.objects.for_user(request.user).only("name", "slug")),
            keys=list(
                IntegrationKey.objects.for_user(request.user).only("name", "key_prefix", "revoked_at")
            ),
            status_choices=STATUS_CHOICES,
            severity_choices=SEVERITY_CHOICES,
        )
        response = render(request, "incidents/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def incident_detail(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    return render(request, "incidents/detail.html", _detail_context(request, incident))


@_signed_in_or_sign_in_page
@require_GET
def incident_live(request, pk: int):
    """The parts of the detail page that change while a responder watches it (status,
    who acknowledged or resolved, still firing, alerts, timeline), polled by htmx. The note
    and action forms are not in it, so a half-typed note or a focused button is never
    replaced. A resolved incident's answer carries no polling trigger: the page stops asking."""
    incident = _incident_or_404(request.user, pk)
    return render(request, "incidents/_detail_live.html", _live_context(incident))


def _live_context(incident: Incident) -> dict:
    alerts = list(incident.alerts.select_related("integration_key"))
    return {
        "incident": incident,
        "alerts": alerts,
        "firing": still_firing(alerts, timezone.now()),
        "timeline": build_timeline(incident),
        "refresh_seconds": REFRESH_SECONDS,
    }


def _detail_context(request, incident: Incident) -> dict:
    live = _live_context(incident)
    alerts = live["alerts"]
    first_event = (
        Event.objects.filter(incident=incident).order_by("id").only("raw", "format", "received_at").first()
    )
    suppressed = 0
    if incident.integration_key_id and alerts:
        suppressed = Event.objects.filter(
            integration_key_id=incident.integration_key_id,
            dedup_key__in=[a.dedup_key for a in alerts],
            outcome=Event.Outcome.SUPPRESSED,
        ).count()
    people, schedules = reassign_targets(incident)
    return {
        **live,
        "section": "incidents",
        "maintenance_hold": maintenance_hold(incident),
        "labels": labels_of(incident.labels),
        "details_json": pretty_json(incident.details),
        # Set by a repeat trigger or a source's text update (Opsgenie), never by the first.
        "latest_json": pretty_json(incident.latest) if incident.latest else "",
        "first_event": first_event,
        "first_body": pretty_body(first_event.raw) if first_event else "",
        "links": display_links(incident.links),
        "images": display_images(incident.images),
        "runbook_url": safe_http_url(incident.runbook),
        "suppressed_count": suppressed,
        "people": people,
        "schedules": schedules,
        "note_max": NOTE_MAX,
    }


def _report(request, result: actions.ActionResult, done: str) -> None:
    if result.changed:
        messages.success(request, done)
    else:
        messages.info(request, f"Nothing changed: {result.message}.")


@login_required
@require_POST
def acknowledge(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    result = actions.do_acknowledge_incident(incident.pk, by=request.user, via="web")
    _report(request, result, f"Incident #{incident.pk} acknowledged.")
    return redirect("incident-detail", pk=incident.pk)


@login_required
@require_POST
def resolve(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    if incident.is_open and request.POST.get("confirm") != "yes":
        firing = still_firing(list(incident.alerts.all()), timezone.now())
        if firing:
            # The source has not said it recovered: ask before resolving, and say why.
            return render(
                request,
                "incidents/resolve_confirm.html",
                {"section": "incidents", "incident": incident, "firing": firing},
            )
    result = actions.do_resolve_incident(incident.pk, by=request.user, via="web")
    _report(request, result, f"Incident #{incident.pk} resolved.")
    return redirect("incident-detail", pk=incident.pk)


@login_required
@require_POST
def add_note(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    text = request.POST.get("text", "").strip()
    if not text:
        messages.error(request, "A note needs some text.")
    elif len(text) > NOTE_MAX:
        messages.error(request, f"A note can be at most {NOTE_MAX} characters.")
    else:
        actions.do_add_note(incident.pk, by=request.user, text=text)
        messages.success(request, "Note added.")
    return redirect("incident-detail", pk=incident.pk)


@login_required
@require_POST
def escalate(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    result = actions.do_escalate_now(incident.pk, by=request.user)
    _report(request, result, "The next escalation step fires now.")
    return redirect("incident-detail", pk=incident.pk)


@login_required
@require_POST
def reassign(request, pk: int):
    incident = _incident_or_404(request.user, pk)
    target = resolve_target(incident, request.POST.get("target", ""))
    if target is None:
        messages.error(request, "Choose a member or schedule of this incident's team.")
        return redirect("incident-detail", pk=incident.pk)
    result = actions.do_reassign_incident(incident.pk, by=request.user, **target)
    _report(request, result, result.message[:1].upper() + result.message[1:] + ".")
    return redirect("incident-detail", pk=incident.pk)
