"""Admin registrations live in admin_incidents.py (core) and admin_noise.py (noise reduction)."""

from incidents import admin_incidents, admin_noise  # noqa: F401
