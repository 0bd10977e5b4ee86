import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gdi_archive.settings")
application = get_wsgi_application()

from gdi_archive.storage import ensure_stores_ready  # noqa: E402

ensure_stores_ready()
