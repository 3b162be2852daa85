"""`manage.py drf_create_token USERNAME [-r]`: the command API.md names, kept working after
DRF's authtoken app left. It makes a new per-device token (expiring after
API_TOKEN_TTL_DAYS) and prints DRF's own line, `Generated token <token> for user <name>`;
`-r/--reset` first revokes the user's other tokens, as DRF's replaced its one token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oncall import tokens


class Command(BaseCommand):
    help = "Create a REST API token for a user (API_TOKEN_TTL_DAYS expiry); prefer `api_token create`."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("-r", "--reset", action="store_true", help="Revoke the user's other tokens first.")

    def handle(self, *args, username, reset, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"Cannot create the Token: user {username} does not exist")
        if reset:
            user.auth_token_set.all().delete()
        try:
            _, raw = tokens.create_token(user, "drf_create_token")
        except tokens.TokenRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(f"Generated token {raw} for user {username}")
