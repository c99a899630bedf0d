from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views
from fulfil import views

DOMAIN_APPS = settings.DOMAIN_APPS

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("accounts.api_urls")),
    *[path("", include(f"{app}.api_urls")) for app in DOMAIN_APPS],
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("app/", account_views.dashboard, name="dashboard"),
    path("app/account/", include("accounts.urls")),
    path("api/v1/", include((api_v1, "api"))),
    *[path(f"app/{app.replace('.', '/')}/", include(f"{app}.urls")) for app in DOMAIN_APPS],
    path("pricing/", include("billing.public_urls")),  # public calculator (no account)
    path("returns/", include("warehouse.inbound.portal_urls")),  # customer return portal (no account)
    path("integrations/stripe/", include("billing.stripe_urls")),  # Stripe webhooks (billing)
    # EasyPost tracking webhooks
    path("integrations/carriers/", include("integrations.carriers.webhook_urls")),
    path("integrations/", include("integrations.webhook_urls")),  # sales-channel webhooks + OAuth callbacks
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
