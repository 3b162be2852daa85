"""Where the vendor's JSON comes from: its REST API (read-only token, paginated as each
vendor paginates) or a directory of the same JSON (`--from-dir`, the portal's zip).

A directory holds one file per API path, the whole list in one page:
`users.json` for GET /users, `schedules/P1ABC.json` for GET /schedules/P1ABC."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin

import httpx

PAGE_SIZE = 100
MAX_PAGES = 1000  # a server that always says "more" must not loop forever
TIMEOUT = httpx.Timeout(30.0)


class SourceError(Exception):
    """The data could not be read: names the path and why (no token in the message)."""


class DirSource:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"{root} is not a directory")

    def get(self, path: str, params: dict | None = None) -> dict:
        file = self.root / (path.strip("/") + ".json")
        if not file.resolve().is_relative_to(self.root.resolve()):
            raise SourceError(f"{path}: outside the export directory")
        if not file.is_file():
            raise SourceError(f"{file.relative_to(self.root)} is missing from the export")
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(f"{file.relative_to(self.root)} is not JSON: {error}") from None

    def get_list(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        items = self.get(path, params).get(key)
        if not isinstance(items, list):
            raise SourceError(f"{path}.json has no list under {key!r}")
        return items


class ApiSource:
    """Pagination per vendor: PagerDuty `offset`/`limit`/`more`; Opsgenie `paging.next`;
    Grafana OnCall `next` (a full URL)."""

    def __init__(self, vendor: str, base_url: str, token: str, transport: httpx.BaseTransport | None = None):
        self.vendor = vendor
        self.base_url = base_url.rstrip("/") + "/"
        headers = {
            "pagerduty": {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"},
            "opsgenie": {"Authorization": f"GenieKey {token}"},
            "oncall": {"Authorization": token},
        }[vendor]
        self.http = httpx.Client(headers=headers, timeout=TIMEOUT, transport=transport)

    def _fetch(self, url: str, params: dict | None) -> dict:
        try:
            response = self.http.get(url, params=params)
        except httpx.HTTPError as error:
            raise SourceError(f"GET {url}: {type(error).__name__}") from None
        if response.status_code in (401, 403):
            raise SourceError(f"GET {url}: the token was refused ({response.status_code})")
        if response.status_code != 200:
            raise SourceError(f"GET {url}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"GET {url}: the answer is not JSON") from None

    def get(self, path: str, params: dict | None = None) -> dict:
        return self._fetch(urljoin(self.base_url, path.lstrip("/")), params)

    def get_list(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        url = urljoin(self.base_url, path.lstrip("/"))
        params = dict(params or {})
        items: list[dict] = []
        if self.vendor == "pagerduty":
            params.update(limit=PAGE_SIZE, offset=0)
        for _ in range(MAX_PAGES):
            page = self._fetch(url, params)
            batch = page.get(key)
            if not isinstance(batch, list):
                raise SourceError(f"GET {path}: no list under {key!r}")
            items.extend(batch)
            if self.vendor == "pagerduty":
                if not page.get("more"):
                    return items
                params["offset"] = params["offset"] + len(batch)
                if not batch:
                    return items
                continue
            following = (page.get("paging") or {}).get("next") if self.vendor == "opsgenie" else page.get("next")
            if not following:
                return items
            url, params = following, None
        raise SourceError(f"GET {path}: more than {MAX_PAGES} pages")

    def close(self) -> None:
        self.http.close()
