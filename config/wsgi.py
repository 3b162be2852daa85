import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from config.door_wsgi import Application  # noqa: E402 - after Django is set up

# Door requests take a short middleware stack (config/door_wsgi.py); the rest the whole one.
application = Application()
