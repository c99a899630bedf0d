from django.urls import path

from warehouse import kitting_views, views

app_name = "warehouse"
urlpatterns = [
    path("", views.home, name="home"),
    path("waves/create/", views.wave_create, name="wave_create"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/picklist.pdf", views.pick_list_pdf, name="pick_list_pdf"),
    path("batches/<int:pk>/pick/", views.pick, name="pick"),
    path("batches/<int:pk>/pick/scan/", views.pick_scan, name="pick_scan"),
    path("pack/", views.pack_station, name="pack_station"),
    path("pack/<int:pk>/", views.pack_session, name="pack_session"),
    path("pack/<int:pk>/scan/", views.pack_scan, name="pack_scan"),
    path("pack/<int:pk>/ship/", views.pack_ship, name="pack_ship"),
    path("pack/<int:pk>/label/<int:n>.<str:fmt>", views.pack_label, name="pack_label"),
    path("pack/<int:pk>/slip.pdf", views.packing_slip, name="packing_slip"),
    path("replenish/", views.replenish_list, name="replenish_list"),
    path("replenish/<int:pk>/take/", views.replenish_take, name="replenish_take"),
    path("replenish/<int:pk>/", views.replenish, name="replenish"),
    path("replenish/<int:pk>/scan/", views.replenish_scan, name="replenish_scan"),
    path("staff/", views.staff, name="staff"),
    path("kits/", kitting_views.kit_requests, name="kit_requests"),
    path("kits/<int:pk>/cancel/", kitting_views.kit_request_cancel, name="kit_request_cancel"),
    path("kits/floor/", kitting_views.kit_floor, name="kit_floor"),
    path("kits/floor/<int:pk>/", kitting_views.kit_task, name="kit_task"),
    path("kits/floor/<int:pk>/scan/", kitting_views.kit_task_scan, name="kit_task_scan"),
]
