"""RELIABILITY T47, the provider-secret part: every secret Vigil must use in plain form
(an outgoing webhook's URL and its signing secret, an ntfy token, an apprise URL, a push
subscription's endpoint and keys) is made through the REST API, the Profile page, the push
subscription page and the admin, a page is sent with them; then a pg_dump of the committed
test database is searched for each one: 0 hits. Then the key is rotated
(`rotate_field_encryption`) and the secrets still open, with the new key alone."""

import io
import json
import secrets

import pytest
from django.core.management import call_command
from django.test import Client

from escalation.engine import advance_escalation
from escalation.models import ContactMethod, Notification
from escalation.notify import send_notification
from tests.escalation.conftest import add_step
from tests.escalation.push_service import FakeBrowser, make_vapid_keys
from tests.escalation.test_push_channel import csrf_token, subscribe
from tests.factories import api_client_for, make_incident, make_key, make_policy, make_team, make_user
from tests.security.test_key_never_stored import pg_dump


def token(label: str) -> str:
    return f"{label}{secrets.token_hex(12)}"


def base64_part(signing_secret: str) -> str:
    return signing_secret.removeprefix("whsec_")


@pytest.mark.django_db(transaction=True)
def test_t47_a_database_dump_holds_no_provider_secret_in_plain_form(settings, httpserver):
    settings.ESCALATION_WEBHOOK_ALLOW_PRIVATE = True  # the receivers are on 127.0.0.1
    vapid = make_vapid_keys()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid.public, vapid.private
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    team = make_team("SRE")
    alice = make_user("alice", team=team)
    root = make_user("root", is_superuser=True, is_staff=True)
    hidden: dict[str, str] = {}

    # 1. REST: a Slack-style webhook (its URL is its credential), an ntfy topic with its
    #    token, an apprise URL carrying a bot token.
    rest = api_client_for(alice)
    hidden["rest webhook path"] = token("T0B0hook")
    hook_url = httpserver.url_for(f"/services/{hidden['rest webhook path']}")
    made = rest.post("/api/v1/contact-methods/", {"kind": "webhook", "address": hook_url}, format="json")
    assert made.status_code == 201, made.json()
    rest_hook_pk = made.json()["id"]
    hidden["rest signing secret"] = base64_part(made.json()["signing_secret"])
    hidden["ntfy token"] = token("tk_")
    hidden["ntfy topic"] = token("vigil-topic-")
    made = rest.post("/api/v1/contact-methods/", {"kind": "ntfy", "token": hidden["ntfy token"],
                                                  "address": httpserver.url_for(f"/{hidden['ntfy topic']}")},
                     format="json")
    assert made.status_code == 201, made.json()
    hidden["apprise bot token"] = token("AAH")
    made = rest.post("/api/v1/contact-methods/", {"kind": "apprise",
                                                  "address": f"tgram://123456789:{hidden['apprise bot token']}/98765"},
                     format="json")
    assert made.status_code == 201, made.json()

    # 2. Portal: a webhook on the Profile page (its secret shown on that page), and this
    #    browser's push subscription.
    web = Client()
    web.force_login(alice)
    hidden["portal webhook path"] = token("portalhook")
    page = web.post("/profile/methods/new/", {"kind": "webhook",
                                              "address": httpserver.url_for(f"/{hidden['portal webhook path']}")})
    assert page.status_code == 200
    portal_hook = ContactMethod.objects.get(user=alice, kind="webhook", slack_format=False, verified=False)
    assert portal_hook.signing_secret in page.content.decode()
    hidden["portal signing secret"] = base64_part(portal_hook.signing_secret)
    browser = FakeBrowser()
    hidden["push capability"] = token("wpush-capability-")
    subscription = browser.subscription(httpserver.url_for(f"/wpush/{hidden['push capability']}"))
    assert subscribe(web, subscription, HTTP_X_CSRFTOKEN=csrf_token(web)).status_code == 201
    hidden["push p256dh"] = subscription["keys"]["p256dh"]
    hidden["push auth"] = subscription["keys"]["auth"]

    # 3. Admin: a webhook added for alice.
    admin = Client()
    admin.force_login(root)
    hidden["admin webhook path"] = token("adminhook")
    added = admin.post("/admin/escalation/contactmethod/add/", {
        "user": alice.pk, "kind": "webhook", "address": httpserver.url_for(f"/{hidden['admin webhook path']}"),
        "enabled": "on", "verified": "on", "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0",
    })
    assert added.status_code == 302, added.content.decode()[:2000]
    [admin_hook] = [m for m in ContactMethod.objects.filter(user=alice, kind="webhook")
                    if hidden["admin webhook path"] in m.address]
    hidden["admin signing secret"] = base64_part(admin_hook.signing_secret)

    # 4. A page goes out on the REST webhook: the notification keeps a copy of its URL,
    #    the timeline names it. Sending still works with what was stored encrypted.
    ContactMethod.objects.filter(user=alice).exclude(pk=rest_hook_pk).update(enabled=False)
    httpserver.expect_request(f"/services/{hidden['rest webhook path']}", method="POST").respond_with_data("ok")
    policy = make_policy("Primary", team=team)
    add_step(policy, 0, users=[alice])
    key, _raw = make_key(team=team, policy=policy)
    incident = make_incident(key)
    advance_escalation(incident.pk)
    [page_row] = Notification.objects.filter(incident=incident)
    assert send_notification(page_row.pk) == "sent"
    assert [request.path for request, _ in httpserver.log if request.path.startswith("/services/")] == [
        f"/services/{hidden['rest webhook path']}"]

    dump = pg_dump()
    hits = {what: dump.count(value) for what, value in hidden.items()}
    print(f"\nT47 provider secrets: {len(hidden)} values, plaintext hits in pg_dump: {sum(hits.values())}")
    assert hits == dict.fromkeys(hidden, 0)
    assert dump.count("gAAAAA") >= 7  # the Fernet tokens are there instead

    # 5. A new key first, the old one after it: the command re-encrypts, then the old key
    #    can go and everything still opens (and is still found by address).
    settings.FIELD_ENCRYPTION_KEY = [secrets.token_urlsafe(32), settings.SECRET_KEY]
    call_command("rotate_field_encryption", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY[:1]
    assert ContactMethod.objects.at_address("webhook", hook_url).get().signing_secret.endswith(
        hidden["rest signing secret"])
    assert ContactMethod.objects.get(user=alice, kind="ntfy").secrets == {"token": hidden["ntfy token"]}
    assert ContactMethod.objects.get(user=alice, kind="push").secrets["auth"] == hidden["push auth"]
    assert Notification.objects.get(pk=page_row.pk).address == hook_url
    assert json.dumps(hidden["push p256dh"]) not in pg_dump()
