from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("export.csv", views.order_export, name="export"),
    path("bulk/", views.order_bulk, name="bulk"),
    path("new/", views.order_new, name="new"),
    path("import/", views.order_import_csv, name="import"),
    path("import/<int:import_id>/", views.order_import_preview, name="import_preview"),
    path("exceptions/", views.exception_queue, name="exceptions"),
    path("settings/", views.order_settings, name="settings"),
    path("routing/", views.routing_report, name="routing"),
    path("filters/", views.saved_filter_save, name="filter_save"),
    path("filters/<int:filter_id>/delete/", views.saved_filter_delete, name="filter_delete"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/<slug:action>/", views.order_action, name="action"),
]
