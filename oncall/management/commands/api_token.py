"""`manage.py api_token create|list|revoke --user USERNAME`: REST tokens from the shell.

create [--name NAME] [--days N | --never-expires]  prints the raw token alone on stdout
                                                    (`TOKEN=$(manage.py api_token create ...)`);
                                                    it is shown only this once
list                                                id, name, first characters, expiry
revoke --id ID | --all                              the token stops working at once"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oncall import tokens


def find_user(username: str):
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"No user {username!r}.")
    return user


class Command(BaseCommand):
    help = "Create, list or revoke a person's REST API tokens (a new token is printed once, on stdout)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("--user", required=True, help="User name.")
        parser.add_argument("--name", default="Command line", help="create: the device or script.")
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument("--days", type=int, help="create: days until it expires (default API_TOKEN_TTL_DAYS).")
        expiry.add_argument("--never-expires", action="store_true",
                            help="create: a token without expiry, for a script; revoke it when it is retired.")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--id", type=int, help="revoke: the token's id (from list).")
        target.add_argument("--all", action="store_true", help="revoke: every token of the user.")

    def handle(self, *args, action, user, **options):
        person = find_user(user)
        if action == "create":
            return self.create(person, options)
        if action == "list":
            return self.list(person)
        return self.revoke(person, options)

    def create(self, person, options):
        ttl_days = None if options["never_expires"] else (options["days"] if options["days"] is not None else -1)
        try:
            token, raw = tokens.create_token(person, options["name"], ttl_days=ttl_days)
        except tokens.TokenRefused as refused:
            raise CommandError(str(refused)) from None
        expires = token.expiry.isoformat() if token.expiry else "never"
        self.stderr.write(f"Token {token.pk} ({token.name}) for {person.get_username()}, expires {expires}. "
                          "Copy it now: it is not stored and cannot be shown again.")
        self.stdout.write(raw)

    def list(self, person):
        rows = list(tokens.live_tokens(person))
        if not rows:
            self.stderr.write(f"{person.get_username()} has no tokens.")
        for token in rows:
            expires = token.expiry.isoformat() if token.expiry else "never"
            self.stdout.write(f"{token.pk}\t{token.name}\t{tokens.shown_prefix(token)}…\t"
                              f"created {token.created.isoformat()}\texpires {expires}")

    def revoke(self, person, options):
        if options["all"]:
            count = person.auth_token_set.all().delete()[0]
            self.stderr.write(f"Revoked {count} token(s) of {person.get_username()}.")
            return
        if options["id"] is None:
            raise CommandError("revoke needs --id ID (see `list`) or --all.")
        if not tokens.revoke_token(person, options["id"]):
            raise CommandError(f"{person.get_username()} has no token {options['id']}.")
        self.stderr.write(f"Revoked token {options['id']}.")
