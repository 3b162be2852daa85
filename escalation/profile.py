"""The portal's Profile page (`/profile/`): a responder sets up their own paging.

Contact methods (add, verify with a code sent over the method, send a test page, enable,
disable, delete) and notification rules (method + delay, for high- and low-urgency
incidents) are escalation's; the time zone, shifts and REST token parts come from
`oncall.profile`. Every action reads through the signed-in person's own rows, so another
person's method or rule is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from escalation import verification
from escalation.channels import CHANNELS, Delivered, check_contact_address, configured_kinds
from escalation.channels.push import PushChannel
from escalation.engine import delivery_plan
from escalation.models import ContactMethod, NotificationRule, Urgency
from escalation.redaction import shown_address
from oncall.profile import profile_context

MAX_METHODS = 20
MAX_RULES = 40
MAX_DELAY_MINUTES = 24 * 60
# One severity stands for each urgency in the preview line.
PREVIEW = [(Urgency.HIGH, "critical", "A critical or error page"), (Urgency.LOW, "warning", "A warning or info page")]


def kind_label(kind: str) -> str:
    cls = CHANNELS.get(kind)
    return cls.label if cls is not None else kind


def shown(method: ContactMethod) -> str:
    """The address as this page shows it: a push endpoint, an ntfy topic or an apprise URL
    is a credential, shown as its scheme and server only."""
    return shown_address(method.kind, method.address)


class AddMethodForm(forms.Form):
    kind = forms.ChoiceField(label="Kind")
    address = forms.CharField(max_length=500, label="Address", help_text="Email address, or the webhook's URL.")
    slack_format = forms.BooleanField(required=False, label="Slack-compatible body (webhooks)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only channels this installation can use (their settings are present).
        # Push is left out: a browser subscribes itself (/push/), nobody types its address.
        self.fields["kind"].choices = [(cls.kind, cls.label) for cls in configured_kinds() if cls.typed_address]

    def clean(self):
        data = super().clean()
        if "kind" in data and "address" in data:
            data["address"] = data["address"].strip()
            try:
                check_contact_address(data["kind"], data["address"])  # resolves a webhook's host
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return data


class RuleForm(forms.Form):
    urgency = forms.ChoiceField(choices=Urgency.choices)
    contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none(), label="Contact method")
    delay_minutes = forms.IntegerField(min_value=0, max_value=MAX_DELAY_MINUTES, initial=0,
                                       label="After (minutes)")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["contact_method"]
        field.queryset = ContactMethod.objects.filter(user=user).order_by("id")
        field.label_from_instance = lambda m: f"{kind_label(m.kind)}: {shown(m)}"


class CodeForm(forms.Form):
    code = forms.CharField(max_length=20)


def preview_line(plan: list[tuple[ContactMethod, int]]) -> str:
    """'Email now, Outgoing webhook at +2 min'."""
    if not plan:
        return "nobody is paged: add and verify a contact method"
    parts = []
    for method, delay in sorted(plan, key=lambda pair: (pair[1], pair[0].pk)):
        when = "now" if delay == 0 else f"at +{delay} min"
        parts.append(f"{kind_label(method.kind)} ({shown(method)}) {when}")
    return ", ".join(parts)


def _page(request, *, add_form=None, rule_form=None, status=200, new_secret=None):
    user = request.user
    now = timezone.now()
    methods = list(ContactMethod.objects.filter(user=user).order_by("id"))
    rules = list(NotificationRule.objects.filter(user=user).select_related("contact_method")
                 .order_by("delay_minutes", "id"))
    for method in methods:
        method.kind_label = kind_label(method.kind)
        method.shown_address = shown(method)
        method.awaiting_code = not method.verified and bool(method.verification_digest)
    for rule in rules:
        rule.method_label = f"{kind_label(rule.contact_method.kind)}: {shown(rule.contact_method)}"
    groups = [
        {"urgency": urgency, "label": Urgency(urgency).label,
         "rules": [r for r in rules if r.urgency in ("", urgency)],
         "preview": f"{title}: {preview_line(delivery_plan(user, severity))}"}
        for urgency, severity, title in PREVIEW
    ]
    context = {
        "section": "profile",
        "methods": methods,
        "rule_groups": groups,
        "add_form": add_form or AddMethodForm(),
        "rule_form": rule_form or RuleForm(user),
        "code_length": verification.CODE_DIGITS,
        "push_offered": PushChannel.configured(),
        "new_secret": new_secret,
        **profile_context(user, now),
    }
    response = render(request, "escalation/profile.html", context, status=status)
    if new_secret is not None:
        patch_cache_control(response, no_store=True)  # a secret shown once is not kept by the browser
    return response


def _show_signing_secret(request, method: ContactMethod):
    """The page itself, not a redirect: a secret put in a message would sit in the
    session store, and it is shown this once."""
    return _page(request, new_secret={"where": shown(method), "value": method.signing_secret})


@login_required
@require_GET
def profile_page(request):
    return _page(request)


def _my_method(request, pk: int) -> ContactMethod:
    return get_object_or_404(ContactMethod, pk=pk, user=request.user)


def _say_sent(request, outcome, what: str) -> None:
    if isinstance(outcome, Delivered):
        messages.success(request, what)
    else:
        messages.error(request, f"Could not send it: {verification.describe(outcome)}")


@login_required
@require_POST
def add_method(request):
    form = AddMethodForm(request.POST)
    if ContactMethod.objects.filter(user=request.user).count() >= MAX_METHODS:
        form.add_error(None, f"You can have at most {MAX_METHODS} contact methods.")
    if not form.is_valid():
        return _page(request, add_form=form, status=400)
    method = ContactMethod.objects.create(
        user=request.user, kind=form.cleaned_data["kind"], address=form.cleaned_data["address"],
        slack_format=form.cleaned_data["slack_format"] and form.cleaned_data["kind"] == "webhook",
        verified=False,  # pages only once its code is entered
    )
    outcome = verification.do_send_verification_code(method.pk, request.user)
    _say_sent(request, outcome, f"We sent a {verification.CODE_DIGITS}-digit code to {shown(method)}: "
                                "enter it below to start receiving pages there.")
    if method.signing_secret:
        return _show_signing_secret(request, method)
    return redirect("profile")


@login_required
@require_POST
def send_code(request, pk: int):
    method = _my_method(request, pk)
    outcome = verification.do_send_verification_code(method.pk, request.user)
    _say_sent(request, outcome, f"A new code is on its way to {shown(method)}.")
    return redirect("profile")


@login_required
@require_POST
def verify_method(request, pk: int):
    method = _my_method(request, pk)
    form = CodeForm(request.POST)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    result = verification.do_check_verification_code(method.pk, request.user, code)
    left = verification.MAX_ATTEMPTS - ContactMethod.objects.get(pk=method.pk).verification_attempts
    text = {
        verification.Check.VERIFIED: f"{shown(method)} is verified: it will be paged.",
        verification.Check.ALREADY: f"{shown(method)} was already verified.",
        verification.Check.WRONG: f"That code is not right; {left} tr{'y' if left == 1 else 'ies'} left.",
        verification.Check.EXPIRED: "That code has expired: send a new one.",
        verification.Check.TOO_MANY: "Too many wrong codes: send a new one.",
        verification.Check.NO_CODE: "No code is pending: send one first.",
    }[result]
    ok = result in (verification.Check.VERIFIED, verification.Check.ALREADY)
    (messages.success if ok else messages.error)(request, text)
    return redirect("profile")


@login_required
@require_POST
def test_method(request, pk: int):
    method = _my_method(request, pk)
    outcome = verification.do_send_test_message(method)
    _say_sent(request, outcome, f"Test page delivered to {shown(method)} ({kind_label(method.kind)}).")
    return redirect("profile")


@login_required
@require_POST
def rotate_signing_secret(request, pk: int):
    method = _my_method(request, pk)
    if method.kind != ContactMethod.Kind.WEBHOOK:
        messages.error(request, "Only outgoing webhooks are signed.")
        return redirect("profile")
    method.rotate_signing_secret()
    messages.success(request, f"{shown(method)} has a new signing secret; the old one no longer verifies.")
    return _show_signing_secret(request, method)


@login_required
@require_POST
def enable_method(request, pk: int):
    method = _my_method(request, pk)
    method.enabled = request.POST.get("enabled") == "1"
    method.save(update_fields=["enabled"])
    messages.success(request, f"{shown(method)} is {'enabled' if method.enabled else 'disabled'}.")
    return redirect("profile")


@login_required
@require_POST
def delete_method(request, pk: int):
    method = _my_method(request, pk)
    method.delete()  # its rules go with it; sent notifications keep their address
    messages.success(request, f"{kind_label(method.kind)} {shown(method)} was removed.")
    return redirect("profile")


@login_required
@require_POST
def add_rule(request):
    form = RuleForm(request.user, request.POST)
    if NotificationRule.objects.filter(user=request.user).count() >= MAX_RULES:
        form.add_error(None, f"You can have at most {MAX_RULES} notification rules.")
    if not form.is_valid():
        return _page(request, rule_form=form, status=400)
    rule = NotificationRule.objects.create(
        user=request.user, contact_method=form.cleaned_data["contact_method"],
        delay_minutes=form.cleaned_data["delay_minutes"], urgency=form.cleaned_data["urgency"],
    )
    note = "" if rule.contact_method.verified else " It applies once the method is verified."
    messages.success(request, f"Rule added.{note}")
    return redirect("profile")


@login_required
@require_POST
def delete_rule(request, pk: int):
    get_object_or_404(NotificationRule, pk=pk, user=request.user).delete()
    messages.success(request, "Rule removed.")
    return redirect("profile")

