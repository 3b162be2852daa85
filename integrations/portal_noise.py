"""The key page's noise settings: grouping (window, labels, Alertmanager's groupKey) and
flapping limits, edited by the key's team admins (a responder gets 403; anyone outside the
team a 404, as for the key itself).

Saved through the REST API's `IntegrationKeySerializer` (a partial update), so the portal
and `PATCH /api/v1/integration-keys/<id>/` accept and refuse the same values."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.api import IntegrationKeySerializer
from integrations.models import IntegrationKey
from oncall.permissions import is_team_admin

SETTINGS = ("grouping_type", "grouping_window_seconds", "grouping_labels", "group_by_alertmanager_group_key",
            "flapping_threshold", "flapping_window_seconds")


class KeyNoiseForm(forms.Form):
    grouping_type = forms.ChoiceField(label="Grouping", choices=IntegrationKey.GroupingType.choices)
    grouping_window_seconds = forms.IntegerField(
        label="Grouping window (seconds)", min_value=0,
        help_text="A new alert within this time of an open incident's first alert joins it.",
    )
    grouping_labels = forms.CharField(
        label="Group by labels", required=False, max_length=1000,
        help_text="Comma-separated label names: only alerts with the same values group together. Empty: all.",
    )
    group_by_alertmanager_group_key = forms.BooleanField(
        label="Alertmanager: one incident per groupKey", required=False,
    )
    flapping_threshold = forms.IntegerField(
        label="Flapping threshold", required=False, min_value=1,
        help_text="More state changes than this within the flapping window mark an alert flapping. "
                  "Empty: the installation's default.",
    )
    flapping_window_seconds = forms.IntegerField(
        label="Flapping window (seconds)", required=False, min_value=60,
        help_text="Empty: the installation's default.",
    )

    def __init__(self, *args, defaults: tuple[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        threshold, window = defaults
        self.fields["flapping_threshold"].widget.attrs["placeholder"] = f"default {threshold}"
        self.fields["flapping_window_seconds"].widget.attrs["placeholder"] = f"default {window}"

    @classmethod
    def for_key(cls, key: IntegrationKey, defaults: tuple[int, int], data=None) -> KeyNoiseForm:
        initial = {name: getattr(key, name) for name in SETTINGS}
        initial["grouping_labels"] = ", ".join(key.grouping_labels or [])
        return cls(data, initial=initial, defaults=defaults)

    def api_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["grouping_labels"] = [name.strip() for name in data["grouping_labels"].split(",") if name.strip()]
        return data


def save_noise_settings(request, key: IntegrationKey, form: KeyNoiseForm) -> bool:
    """Validate with the REST serializer; its errors land on the form's fields."""
    serializer = IntegrationKeySerializer(key, data=form.api_data(), partial=True, context={"request": request})
    if not serializer.is_valid():
        for name, problems in serializer.errors.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, str(problem))
        return False
    serializer.save()
    return True


def flapping_defaults() -> tuple[int, int]:
    return settings.FLAPPING_THRESHOLD, settings.FLAPPING_WINDOW_SECONDS


def noise_form_for(key: IntegrationKey) -> KeyNoiseForm:
    """The form the key page shows its team admins."""
    return KeyNoiseForm.for_key(key, flapping_defaults())


@login_required
@require_POST
def key_noise_settings(request, pk: int):
    key = get_object_or_404(IntegrationKey.objects.for_user(request.user).select_related("team"), pk=pk)
    if not is_team_admin(request.user, key.team):
        raise PermissionDenied("Only admins of this key's team can change it.")
    form = KeyNoiseForm.for_key(key, flapping_defaults(), data=request.POST)
    if form.is_valid() and save_noise_settings(request, key, form):
        messages.success(request, f"Noise settings of {key.name} saved.")
        return redirect(reverse("integration-detail", args=[key.pk]) + "#noise-settings")
    return render(request, "integrations/key_noise.html",
                  {"section": "integrations", "key": key, "noise_form": form}, status=400)
