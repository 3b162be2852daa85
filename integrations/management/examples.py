"""The ready-to-paste test call shown beside a newly issued key (admin page, bootstrap_demo)."""

import json


def curl_example(raw_key: str, base_url: str) -> str:
    """One line a person can paste into a shell to send a test alert with this key.

    Keys are `ik_` + base62, so single quotes need no escaping."""
    body = {
        "routing_key": raw_key,
        "event_action": "trigger",
        "dedup_key": "vigil-test",
        "payload": {"summary": "Test alert from Vigil", "severity": "warning", "source": "curl"},
    }
    return (
        f"curl -sS -X POST {base_url.rstrip('/')}/v2/enqueue "
        f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'"
    )
