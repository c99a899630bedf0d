"""Public pages under /pricing/ (no account) and Stripe's webhook."""

from django.urls import path

from billing import views

app_name = "billing_public"
urlpatterns = [
    path("", views.pricing_page, name="pricing"),
    path("save/", views.pricing_save, name="save"),
    path("e/<str:token>/", views.pricing_estimate, name="estimate"),
    path("rates/", views.pricing_rates, name="rates"),
]
