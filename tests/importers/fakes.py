"""Local stand-ins for the three vendors' REST APIs: pytest-httpserver serving the fixture
JSON the way each API pages it (two items a page, to make the client follow the pages) and
refusing a request without the vendor's auth header."""

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from werkzeug import Response

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOKEN = "read-only-token-3f9c"
PAGE = 2
AUTH = {"pagerduty": f"Token token={TOKEN}", "opsgenie": f"GenieKey {TOKEN}", "oncall": TOKEN}
LIST_KEY = {"pagerduty": None, "opsgenie": "data", "oncall": "results"}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def serve(httpserver, vendor: str) -> list[str]:
    """Serve fixtures/<vendor>/ under httpserver's root; returns the list of paths asked for."""
    root, seen = FIXTURES / vendor, []

    def handler(request):
        seen.append(request.full_path)
        if request.headers.get("Authorization") != AUTH[vendor]:
            return _json({"error": {"message": "Unauthorized", "code": 2006}}, 401)
        file = root / (request.path.strip("/") + ".json")
        if not file.is_file():
            return _json({"message": "Not Found"}, 404)
        body = json.loads(file.read_text())
        key = LIST_KEY[vendor] or next((k for k, v in body.items() if isinstance(v, list)), None)
        if vendor == "pagerduty" and key and "limit" in body:
            offset = int(request.args.get("offset", 0))
            limit = min(int(request.args.get("limit", 25)), PAGE)
            items = body[key]
            return _json(dict(body, **{key: items[offset:offset + limit], "offset": offset, "limit": limit,
                                       "more": offset + limit < len(items)}))
        if vendor == "opsgenie" and isinstance(body.get("data"), list) and request.path.endswith(("users", "schedules")):
            offset = int(request.args.get("offset", 0))
            items, args = body["data"], dict(request.args, offset=offset + PAGE, limit=PAGE)
            following = httpserver.url_for(request.path) + "?" + urlencode(args)
            return _json(dict(body, data=items[offset:offset + PAGE],
                              paging={"next": following} if offset + PAGE < len(items) else {}))
        if vendor == "oncall" and isinstance(body.get("results"), list):
            number = int(request.args.get("page", 1))
            items = body["results"]
            following = httpserver.url_for(request.path) + f"?page={number + 1}"
            return _json(dict(body, results=items[(number - 1) * PAGE:number * PAGE],
                              next=following if number * PAGE < len(items) else None, current_page_number=number))
        return _json(body)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    return seen


def vendor_final_schedule(vendor: str) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each schedule's final entries as the vendor renders them: {vendor schedule id: [(start, end, email)]}."""
    root, out = FIXTURES / vendor, {}
    if vendor == "pagerduty":
        emails = {u["id"]: u["email"] for u in json.loads((root / "users.json").read_text())["users"]}
        for s in json.loads((root / "schedules.json").read_text())["schedules"]:
            body = json.loads((root / "schedules" / f"{s['id']}.json").read_text())["schedule"]
            out[s["id"]] = [(_t(e["start"]), _t(e["end"]), emails[e["user"]["id"]])
                            for e in body["final_schedule"]["rendered_schedule_entries"]]
    elif vendor == "opsgenie":
        emails = {u["id"]: u["username"] for u in json.loads((root / "v2/users.json").read_text())["data"]}
        for s in json.loads((root / "v2/schedules.json").read_text())["data"]:
            body = json.loads((root / "v2/schedules" / s["id"] / "timeline.json").read_text())["data"]
            out[s["id"]] = [(_t(p["startDate"]), _t(p["endDate"]), emails[p["recipient"]["id"]])
                            for r in body["finalTimeline"]["rotations"] for p in r["periods"]]
    else:
        emails = {u["id"]: u["email"] for u in json.loads((root / "api/v1/users.json").read_text())["results"]}
        for s in json.loads((root / "api/v1/schedules.json").read_text())["results"]:
            body = json.loads((root / "api/v1/schedules" / s["id"] / "final_shifts.json").read_text())
            out[s["id"]] = [(_t(e["shift_start"]), _t(e["shift_end"]), emails[e["user_pk"]]) for e in body["results"]]
    return out


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
