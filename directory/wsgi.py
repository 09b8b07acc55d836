"""WSGI entry point for the web server (`granian --interface wsgi directory.wsgi:application`).

Two interpreter settings for web processes only, each measured with `make bench-load`:
- threads switch every WEB_SWITCH_INTERVAL_SECONDS (Python's default is 5 ms), so a request
  waits less behind a page or listing being rebuilt in a background thread;
- the objects loaded at start (Django, the URL and template machinery) are moved out of the
  garbage collector's sight (`gc.freeze()`), so its full passes, which a rebuild of thousands of
  rows sets off, no longer walk them every time.

And one guard: granian starts every request's environ from a copy of the process environment
(granian/wsgi.py: `dict(os.environ) | request`), so `request.META` would carry SECRET_KEY and
DATABASE_URL into anything that reports it, and a variable named like a header (say
HTTP_X_FORWARDED_PROTO) would read as a header that every request sent. So, once the settings
are read: variables named like a request's own keys (HTTP_*, CONTENT_TYPE, REMOTE_ADDR...) leave
this process's environment before granian copies it, and the rest, which no request can set,
are taken out of each request's environ.
"""

import gc
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directory.settings")

django_application = get_wsgi_application()

# The keys a server fills in from the request (PEP 3333 and CGI), besides HTTP_* and wsgi.*.
REQUEST_KEYS = frozenset(
    {
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
        "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
        "REMOTE_HOST", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "GATEWAY_INTERFACE",
        "SERVER_SOFTWARE", "HTTPS",
    }
)  # fmt: skip
for _name in [name for name in os.environ if name.startswith("HTTP_") or name in REQUEST_KEYS]:
    del os.environ[_name]
_PROCESS_ONLY = tuple(os.environ)


def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    for name in _PROCESS_ONLY:
        environ.pop(name, None)
    return django_application(environ, start_response)


sys.setswitchinterval(settings.WEB_SWITCH_INTERVAL_SECONDS)
gc.freeze()
