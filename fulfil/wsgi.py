"""The WSGI entry point: Django, behind the platforms' webhook intake (``integrations.intake``), which answers
the signed Shopify webhook POSTs without Django's request/middleware/URL machinery and hands everything else
to Django. (Like ``urls.py``, the entry point may name a domain app; the shared machinery may not.)"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")
django_application = get_wsgi_application()

from integrations.intake import WebhookIntake  # noqa: E402 - needs the apps loaded

application = WebhookIntake(django_application)
