from django.urls import path

from inventory import views

app_name = "inventory"
urlpatterns = [
    path("", views.inventory_home, name="home"),
    path("movements/", views.movement_list, name="movements"),
    path("reports/", views.report, name="report"),
    path("alerts/<int:pk>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
    path("channels/", views.channel_rules, name="channel_rules"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_new, name="product_new"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("products/<int:pk>/channels/", views.product_channel_rule, name="product_channel_rule"),
    path("products/<int:pk>/safety/<str:code>/", views.product_safety_stock, name="product_safety_stock"),
    path("catalog/review/", views.catalog_review, name="catalog_review"),
    path("catalog/import/", views.catalog_import, name="catalog_import"),
    path("catalog/import/<int:pk>/", views.catalog_import_preview, name="catalog_import_preview"),
    path("inbound/", views.inbound_list, name="inbound_list"),
    path("inbound/new/", views.inbound_new, name="inbound_new"),
    path("inbound/<int:pk>/", views.inbound_detail, name="inbound_detail"),
]
