"""`manage.py create_integration_key --name NAME --policy POLICY [--team TEAM]`

Prints the raw key alone on stdout, so scripts can capture it (`KEY=$(manage.py ...)`);
everything else goes to stderr. The key is never stored or shown again."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from escalation.models import EscalationPolicy
from integrations.models import IntegrationKey
from oncall.models import Team


def find_team(name_or_slug: str) -> Team:
    team = Team.objects.filter(Q(slug=name_or_slug) | Q(name=name_or_slug)).first()
    if team is None:
        raise CommandError(f"No team with the slug or name {name_or_slug!r}.")
    return team


def find_or_create_policy(name: str, team: Team | None) -> tuple[EscalationPolicy, bool]:
    """The team's policy of that name, else a shared (team-less) one, else a new empty one."""
    candidates = EscalationPolicy.objects.filter(name=name)
    if team is not None:
        own = candidates.filter(team=team).order_by("id").first()
        if own is not None:
            return own, False
    shared = candidates.filter(team__isnull=True).order_by("id").first()
    if shared is not None:
        return shared, False
    if team is None and candidates.exists():
        raise CommandError(f"The policy {name!r} belongs to a team: pass --team.")
    return EscalationPolicy.objects.create(name=name, team=team), True


class Command(BaseCommand):
    help = "Create an integration key and print the raw key (shown only this once) on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="A name people recognise, e.g. 'Prometheus prod'.")
        parser.add_argument(
            "--policy", required=True,
            help="Escalation policy name; created with no steps when none exists.",
        )
        parser.add_argument("--team", help="Team slug or name (the key's incidents belong to it).")

    def handle(self, *args, name, policy, team=None, **options):
        if not name.strip():
            raise CommandError("--name must not be blank.")
        with transaction.atomic():
            owner = find_team(team) if team else None
            escalation_policy, created = find_or_create_policy(policy, owner)
            key, raw = IntegrationKey.create_with_raw_key(
                name=name.strip(), escalation_policy=escalation_policy, team=owner
            )
        if created:
            self.stderr.write(f"Created the escalation policy {policy!r} with no steps: add steps in the admin.")
        self.stderr.write(f"Created integration key {key.name!r} ({key.key_prefix}…). Store it now: "
                          "it cannot be shown again.")
        self.stdout.write(raw)
