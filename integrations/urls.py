from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.index, name="index"),
    path("connect/<str:platform>/", views.connect, name="connect"),
    path("oauth/<str:platform>/start/", views.oauth_start, name="oauth_start"),
    path("oauth/<str:platform>/callback/", views.oauth_callback, name="oauth_callback"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/test/", views.test, name="test"),
    path("<int:pk>/sync/", views.sync, name="sync"),
    path("<int:pk>/disconnect/", views.disconnect, name="disconnect"),
    path("<int:pk>/products/", views.products, name="products"),
    path("<int:pk>/products/fetch/", views.products_fetch, name="products_fetch"),
    path("<int:pk>/products/import/", views.products_import, name="products_import"),
    path("<int:pk>/products/<int:listing_pk>/map/", views.listing_map, name="listing_map"),
    path("<int:pk>/health/", views.health, name="health"),
    path("<int:pk>/dead-letters/<int:dl_pk>/", views.dead_letter_replay, name="dead_letter"),
    path("<int:pk>/privacy/", views.privacy, name="privacy"),
    path("ebay/account-deletion/", views.ebay_account_deletion, name="ebay_account_deletion"),
    path("walmart/webhooks/<int:pk>/", views.walmart_webhook, name="walmart_webhook"),
    path("<int:pk>/privacy/<int:req_pk>/export/", views.privacy_export, name="privacy_export"),
]
