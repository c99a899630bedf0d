from django.urls import path

from warehouse.inbound import views

app_name = "inbound"
urlpatterns = [
    # merchant side
    path("", views.shipments, name="shipments"),
    path("new/", views.shipment_new, name="shipment_new"),
    path("shipments/<int:shipment_id>/", views.shipment_detail, name="shipment"),
    path("vendors/", views.vendors, name="vendors"),
    path("purchase-orders/", views.purchase_orders, name="purchase_orders"),
    path("purchase-orders/<int:po_id>/", views.purchase_order_detail, name="purchase_order"),
    path("returns/", views.returns, name="returns"),
    path("returns/new/", views.return_new, name="return_new"),
    path("returns/<int:rma_id>/", views.return_detail, name="return"),
    path("returns/<int:rma_id>/label/", views.return_label, name="return_label"),
    path("returns/portal/", views.return_portal_settings, name="return_portal"),
    # the floor (operator staff, tablet)
    path("floor/", views.floor_home, name="floor"),
    path("floor/schedule/", views.floor_schedule, name="floor_schedule"),
    path("floor/receive/", views.floor_receive_start, name="floor_receive_start"),
    path("floor/receive/<int:shipment_id>/", views.floor_receive, name="floor_receive"),
    path("floor/receive/<int:shipment_id>/done/", views.floor_receive_done, name="floor_receive_done"),
    path("floor/receive/<int:shipment_id>/qc/<int:product_id>/", views.floor_qc, name="floor_qc"),
    path("floor/putaway/", views.floor_putaway_list, name="floor_putaway_list"),
    path("floor/putaway/<int:task_id>/", views.floor_putaway, name="floor_putaway"),
    path("floor/counts/", views.floor_counts, name="floor_counts"),
    path("floor/counts/<int:count_id>/", views.floor_count, name="floor_count"),
    path("floor/counts/approvals/", views.floor_approvals, name="floor_approvals"),
    path("floor/counts/variance/", views.floor_variance, name="floor_variance"),
    path("floor/counts/sheet.pdf", views.floor_count_sheet, name="floor_count_sheet"),
    path("floor/help/", views.floor_help, name="floor_help"),
    path("floor/returns/", views.floor_returns, name="floor_returns"),
    path("floor/returns/<int:rma_id>/", views.floor_return, name="floor_return"),
]
