"""The integrations app's portal pages (keys for team admins). The doors' own paths are in
urls.py, derived from the door specs."""

from django.urls import path

from integrations import portal, portal_noise

urlpatterns = [
    path("integrations/", portal.key_list, name="integrations"),
    path("integrations/new/", portal.create_key, name="integration-create"),
    path("integrations/<int:pk>/", portal.key_detail, name="integration-detail"),
    path("integrations/<int:pk>/rotate/", portal.rotate_key, name="integration-rotate"),
    path("integrations/<int:pk>/revoke/", portal.revoke_key, name="integration-revoke"),
    path("integrations/<int:pk>/noise/", portal_noise.key_noise_settings, name="integration-noise"),
]
