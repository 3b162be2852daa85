import pytest

from incidents.models import Event
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

XSS_SUMMARY = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


@pytest.fixture
def hostile(key):
    incident = make_incident(
        key,
        dedup_key=XSS_ATTR,
        summary=XSS_SUMMARY,
        source=XSS_ATTR,
        labels={"<b>key</b>": XSS_ATTR},
        details={"<i>html</i>": XSS_SUMMARY},
        links=[{"href": "javascript:alert(1)", "text": XSS_SUMMARY}],
        runbook="data:text/html,<script>alert(1)</script>",
        images=[{"src": "javascript:alert(1)", "alt": XSS_ATTR}],
    )
    Event.objects.create(integration_key=key, format="events_v2", action="none", outcome="rejected",
                         reason=XSS_SUMMARY, raw='{"summary": "<script>alert(1)</script>"}')
    return incident


def assert_inert(body: str) -> None:
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "<b>key</b>" not in body and "<i>html</i>" not in body
    assert 'href="javascript:' not in body and 'href="data:' not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize("page", ["list", "detail", "key", "dashboard"])
def test_payload_html_is_escaped_on_every_page(web, hostile, key, page):
    url = {
        "list": "/", "detail": f"/incidents/{hostile.pk}/", "key": f"/integrations/{key.pk}/",
        "dashboard": "/dashboard/",
    }[page]
    if page == "dashboard":
        # The dashboard shows no payload text; it must still not break on it.
        assert web.get(url).status_code == 200
        return
    assert_inert(web.get(url).content.decode())


def test_the_live_refresh_fragment_is_escaped_too(web, hostile):
    assert_inert(web.get("/", HTTP_HX_REQUEST="true").content.decode())


def test_pages_carry_the_security_headers(web, key):
    incident = make_incident(key)
    for url in ("/", f"/incidents/{incident.pk}/", "/dashboard/", "/oncall/", "/integrations/", "/login/"):
        response = web.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(web, key):
    import re

    incident = make_incident(key)
    for url in ("/", f"/incidents/{incident.pk}/", "/dashboard/", "/oncall/", "/integrations/"):
        body = web.get(url).content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body) == [], url
        assert "<style" not in body and " style=" not in body, url
        assert re.search(r"\son[a-z]+=", body) is None, url


def test_htmx_is_served_from_the_npm_package_not_a_cdn(web, client):
    body = web.get("/").content.decode()
    assert '<script src="/static/htmx/htmx.min.js" defer></script>' in body
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles":false}\'>' in body
    assert "https://" not in body.split("</head>")[0]


def test_sign_in_page_works_and_sign_out_needs_a_post(client, responder):
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post("/login/", {"username": "rita", "password": "correct horse battery"})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302
