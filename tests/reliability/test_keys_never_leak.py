"""A raw integration key never reaches a log line or the database, whichever door carried
it (path, header, body) and whatever the door answered. Real gunicorn logging at DEBUG
level, then a grep of its log and of a pg_dump of the database."""

from __future__ import annotations

import subprocess
import time

import pytest
from django.db import connection

from incidents.models import Event
from tests.reliability.doors import DOORS

pytestmark = pytest.mark.django_db(transaction=True)

VALID_TRIGGER = {"event_action": "trigger", "dedup_key": "leak-check",
                 "payload": {"summary": "Leak check", "severity": "info", "source": "test"}}


def test_raw_keys_appear_in_no_log_line_and_no_database_row(live, live_key, gunicorn):
    _key, raw_key = live_key
    offset = len(gunicorn.log_text())
    answers = []
    for door in DOORS:
        url, headers = door.url(raw_key), door.headers(raw_key)
        if door.auth == "body":
            body = {**VALID_TRIGGER, "routing_key": raw_key, "service_key": raw_key}
        else:
            body = {**VALID_TRIGGER, "summary": "Leak check", "severity": "low", "title": "Leak check",
                    "alert_name": "Leak check", "status": "Alarm", "Id": "leak-check", "event_type": "create"}
        # A request that succeeds, one that fails validation while echoing the key, one that
        # does not parse, and one with a key that is close but wrong.
        answers.append(live.request(door.method, url, json=body, headers=headers).status_code)
        answers.append(live.request(door.method, url, json={"routing_key": raw_key, "event_action": "bogus",
                                                            "summary": raw_key}, headers=headers).status_code)
        answers.append(live.request(door.method, url, content=b"{" + raw_key.encode(), headers=headers).status_code)
        wrong = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
        answers.append(live.request(door.method, door.url(wrong), json=body, headers=door.headers(wrong)).status_code)
    answers.append(live.get(f"/no/such/door/{raw_key}").status_code)
    assert 500 not in answers and 202 in answers and 401 in answers and 400 in answers

    time.sleep(0.5)  # gunicorn's workers flush their log lines
    assert raw_key not in gunicorn.log_text()[offset:]

    assert not Event.objects.filter(raw__contains=raw_key).exists()
    assert not Event.objects.filter(reason__contains=raw_key).exists()
    dump = subprocess.run(
        ["pg_dump", "--data-only", "-h", connection.settings_dict["HOST"] or "127.0.0.1",
         "-p", str(connection.settings_dict["PORT"] or 5432), "-U", connection.settings_dict["USER"] or "postgres",
         connection.settings_dict["NAME"]],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert "incidents_event" in dump
    assert raw_key not in dump
