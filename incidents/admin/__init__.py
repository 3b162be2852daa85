"""The incidents app's admin: core records (incidents.py) and noise reduction (noise.py)."""

from incidents.admin import incidents, noise  # noqa: F401
