from datetime import UTC, datetime

import pytest

from integrations.formats import FORMATS
from integrations.formats.base import FormatError
from tests.conftest import load_payload

parse = FORMATS["change_events"]


def test_documented_change_event_field_for_field():
    [event] = parse(load_payload("pagerduty/pd_docs_change_event.json"))
    assert event.action == "change"
    assert event.summary == "Build Success: Increase snapshot create timeout to 30 seconds"
    assert event.source == "acme-build-pipeline-tool-default-i-9999"
    assert event.occurred_at == datetime(2020, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert event.details == {"build_state": "passed", "build_number": "2", "run_time": "1236s"}
    assert event.links == [{"href": "https://acme.pagerduty.dev/build/2", "text": "View more details in Acme!"}]


@pytest.mark.parametrize("timestamp", ["yesterday", "", None, 12])
def test_an_unreadable_timestamp_is_no_reason_to_refuse(timestamp):
    [event] = parse({"payload": {"summary": "deploy", "timestamp": timestamp}})
    assert event.occurred_at is None


def test_summary_is_required():
    with pytest.raises(FormatError) as caught:
        parse({"payload": {"source": "ci"}})
    assert caught.value.errors == ["'payload.summary' is missing or blank"]


def test_payload_is_required():
    with pytest.raises(FormatError) as caught:
        parse({"routing_key": "x"})
    assert "'payload' is missing or not an object" in caught.value.errors
