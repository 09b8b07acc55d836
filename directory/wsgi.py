"""WSGI entry point for the web server (`granian --interface wsgi directory.wsgi:application`).

Two interpreter settings for web processes only, each measured with `make bench-load`:
- threads switch every WEB_SWITCH_INTERVAL_SECONDS (Python's default is 5 ms), so a request
  waits less behind a page or listing being rebuilt in a background thread;
- the objects loaded at start (Django, the URL and template machinery) are moved out of the
  garbage collector's sight (`gc.freeze()`), so its full passes, which a rebuild of thousands of
  rows sets off, no longer walk them every time.
"""

import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directory.settings")

application = get_wsgi_application()

sys.setswitchinterval(settings.WEB_SWITCH_INTERVAL_SECONDS)
gc.freeze()
