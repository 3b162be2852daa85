"""The admins' import page: upload an export zip, read the dry-run plan, press Apply.

Superusers only: an import creates users and teams for the whole installation, which no
team admin may do (a team admin administers one team and cannot create others). The zip is
kept in the shared cache between the plan and the apply (30 minutes, under a random token that
is also in the uploader's session), so Apply imports exactly what was planned, from any web
process. The report with the new keys' secrets is sent once, with Cache-Control: no-store."""

from __future__ import annotations

import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from importers.apply import PlanError, apply_plan
from importers.client import DirSource, SourceError
from importers.importer import build_plan
from importers.plan import VENDOR_NAMES
from importers.upload import MAX_ZIP_BYTES, UploadError, extract

PENDING_SECONDS = 30 * 60


class UploadForm(forms.Form):
    vendor = forms.ChoiceField(choices=list(VENDOR_NAMES.items()))
    export = forms.FileField(help_text=f"A zip of the export directory (the --from-dir layout), at most "
                                       f"{MAX_ZIP_BYTES // 1024} KB.")


def _superuser(request):
    if not request.user.is_superuser:
        raise PermissionDenied("Only a superuser can import another tool's configuration.")


def _report(vendor: str, data: bytes, *, dry_run: bool, by=None):
    with tempfile.TemporaryDirectory(prefix="vigil-import-") as tmp:
        root = extract(data, Path(tmp))
        plan = build_plan(vendor, DirSource(root), datetime.now(UTC))
        return apply_plan(plan, dry_run=dry_run, by=by)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    _superuser(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "GET" or not form.is_valid():
        return render(request, "importers/upload.html", {"form": form}, status=400 if request.method == "POST" else 200)
    vendor, upload = form.cleaned_data["vendor"], form.cleaned_data["export"]
    data = upload.read(MAX_ZIP_BYTES + 1)
    try:
        report = _report(vendor, data, dry_run=True)
    except (UploadError, SourceError, PlanError) as error:
        form.add_error("export", str(error))
        return render(request, "importers/upload.html", {"form": form}, status=400)
    token = secrets.token_urlsafe(24)
    cache.set(f"import:{token}", {"vendor": vendor, "data": data, "user": request.user.pk}, PENDING_SECONDS)
    request.session["import_token"] = token
    return render(request, "importers/plan.html", {"report": report, "token": token, "vendor": VENDOR_NAMES[vendor]})


@login_required
@require_POST
def apply_import(request):
    _superuser(request)
    token = request.POST.get("token", "")
    pending = cache.get(f"import:{token}") if token and token == request.session.get("import_token") else None
    if not pending or pending["user"] != request.user.pk:
        error = "That plan has expired or is not yours: upload the export again."
        return render(request, "importers/upload.html", {"form": UploadForm(), "error": error}, status=400)
    try:
        report = _report(pending["vendor"], pending["data"], dry_run=False, by=request.user)
    except (UploadError, SourceError, PlanError) as error:
        return render(request, "importers/upload.html", {"form": UploadForm(), "error": str(error)}, status=400)
    cache.delete(f"import:{token}")
    request.session.pop("import_token", None)
    response = render(request, "importers/report.html", {"report": report, "vendor": VENDOR_NAMES[pending["vendor"]]})
    add_never_cache_headers(response)
    return response
