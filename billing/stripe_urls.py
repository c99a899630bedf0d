from django.urls import path

from billing import views

app_name = "billing_stripe"
urlpatterns = [path("webhooks/", views.stripe_webhook, name="webhook")]
