"""`manage.py bootstrap_demo`, run by `make run`: a demo team, admin and key, once.

Idempotent: each piece is created only when missing. Secrets are printed only when they are
created (the password, unless it came from VIGIL_DEMO_PASSWORD, and the raw key); later runs
say what exists and how to get a new key, because a stored digest cannot be printed back."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from escalation.models import ContactMethod, EscalationPolicy, EscalationStep
from integrations.management.examples import curl_example
from integrations.models import IntegrationKey
from oncall.models import Team, TeamMembership

TEAM_NAME, TEAM_SLUG = "Demo", "demo"
USERNAME = "admin"
POLICY_NAME = "Demo policy"
KEY_NAME = "Demo key"


class Command(BaseCommand):
    help = "Create the demo team, admin user and integration key when they do not exist yet."

    def handle(self, *args, **options):
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": TEAM_NAME})
            user, password = self.ensure_admin()
            TeamMembership.objects.get_or_create(
                team=team, user=user, defaults={"role": TeamMembership.Role.ADMIN}
            )
            policy = self.ensure_policy(team, user)
            key_prefix, raw = self.ensure_key(team, policy, user)

        out = self.stdout
        if password is None:
            out.write(f"Demo admin '{USERNAME}' exists (its password is not shown again; "
                      f"change it with: python manage.py changepassword {USERNAME}).")
        elif os.environ.get("VIGIL_DEMO_PASSWORD"):
            out.write(f"Created demo admin '{USERNAME}' with the password from VIGIL_DEMO_PASSWORD.")
        else:
            out.write(f"Created demo admin '{USERNAME}', password: {password}  (shown once)")
        if raw is None:
            out.write(
                f"Demo integration key '{KEY_NAME}' ({key_prefix}…) exists; its raw value cannot be "
                "shown again. Create a new key with:\n"
                f"  python manage.py create_integration_key --name 'Another key' --policy '{POLICY_NAME}' "
                f"--team {TEAM_SLUG}\n"
                "or in the admin (Integration keys > Add, or the Rotate action)."
            )
        else:
            out.write(f"Created demo integration key '{KEY_NAME}': {raw}  (shown once)")
            out.write("Send a test alert:\n  " + curl_example(raw, settings.SITE_URL))
        out.write(f"Admin: {settings.SITE_URL}/admin/")

    def ensure_admin(self):
        """The demo superuser and its new password, or (existing user, None)."""
        User = get_user_model()
        existing = User.objects.filter(username=USERNAME).first()
        if existing is not None:
            return existing, None
        password = os.environ.get("VIGIL_DEMO_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(USERNAME, f"{USERNAME}@example.com", password)
        # Paged by email, so a first trigger shows a page (the console, in `make run` without Redis).
        ContactMethod.objects.create(user=user, kind=ContactMethod.Kind.EMAIL, address=user.email)
        return user, password

    def ensure_policy(self, team, user):
        policy, created = EscalationPolicy.objects.get_or_create(name=POLICY_NAME, team=team)
        if created:
            step = EscalationStep.objects.create(policy=policy, order=0, delay_minutes=0)
            step.users.add(user)
        return policy

    def ensure_key(self, team, policy, user):
        """(prefix, raw key) when created now, (prefix, None) when it already exists."""
        existing = IntegrationKey.objects.filter(name=KEY_NAME, team=team).order_by("id").first()
        if existing is not None:
            return existing.key_prefix, None
        key, raw = IntegrationKey.create_with_raw_key(
            name=KEY_NAME, escalation_policy=policy, team=team, created_by=user
        )
        return key.key_prefix, raw
