from django.urls import path

from importers import portal

urlpatterns = [
    path("import/", portal.import_page, name="import"),
    path("import/apply/", portal.apply_import, name="import-apply"),
]
