"""The admins' import page: upload a zip, see the plan, apply (superusers only; zip guards)."""

import io
import zipfile

import pytest
from django.contrib.auth import get_user_model

from importers.models import ImportedObject
from importers.upload import MAX_UNCOMPRESSED_BYTES
from oncall.models import Schedule
from tests.factories import make_team, make_user
from tests.importers.fakes import FIXTURES

pytestmark = pytest.mark.django_db


def export_zip(vendor: str, folder: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted((FIXTURES / vendor).rglob("*.json")):
            archive.write(file, folder + str(file.relative_to(FIXTURES / vendor)))
    return buffer.getvalue()


def upload(client, vendor, data, name="export.zip"):
    return client.post("/import/", {"vendor": vendor, "export": io.BytesIO(data) | _named(name)})


class _named:
    def __init__(self, name):
        self.name = name

    def __ror__(self, buffer):
        buffer.name = self.name
        return buffer


@pytest.fixture
def root(client):
    user = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(user)
    return user


def test_upload_shows_the_plan_and_apply_imports_it(client, root):
    page = upload(client, "opsgenie", export_zip("opsgenie", folder="opsgenie-export/"))
    assert page.status_code == 200
    assert b"Would create" in page.content and b"notify &#x27;next&#x27; of schedule" in page.content
    assert not ImportedObject.objects.exists() and get_user_model().objects.count() == 1
    done = client.post("/import/apply/", {"token": page.context["token"]})
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    assert b"ik_" in done.content
    assert Schedule.objects.count() == 2 and get_user_model().objects.count() == 5
    again = client.post("/import/apply/", {"token": page.context["token"]})
    assert again.status_code == 400 and b"expired" in again.content


def test_team_admins_cannot_import(client):
    admin = make_user("lead", team=make_team("SRE"), role="admin")
    client.force_login(admin)
    assert client.get("/import/").status_code == 403
    assert upload(client, "pagerduty", export_zip("pagerduty")).status_code == 403
    assert not ImportedObject.objects.exists()


def test_zip_bomb_is_refused_without_writing(client, root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("users.json", b" " * (MAX_UNCOMPRESSED_BYTES + 1))
    page = upload(client, "pagerduty", buffer.getvalue())
    assert page.status_code == 400 and b"unpacks to more than 20 MB" in page.content
    assert not ImportedObject.objects.exists()


@pytest.mark.parametrize("name, message", [("../users.json", b"paths must stay inside"),
                                           ("notes.txt", b"only the API")])
def test_bad_paths_in_the_zip_are_refused(client, root, name, message):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"{}")
    page = upload(client, "pagerduty", buffer.getvalue())
    assert page.status_code == 400 and message in page.content


def test_not_a_zip_and_an_incomplete_export_are_400(client, root):
    assert b"not a zip archive" in upload(client, "oncall", b"hello").content
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("users.json", b'{"users": []}')
    page = upload(client, "pagerduty", buffer.getvalue())
    assert page.status_code == 400 and b"teams.json is missing from the export" in page.content
