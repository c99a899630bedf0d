from django.urls import path

from warehouse.inbound import api

urlpatterns = [
    path("vendors/", api.VendorListCreateApi.as_view(), name="inbound-vendors"),
    path("vendors/<int:pk>/", api.VendorDetailApi.as_view(), name="inbound-vendor"),
    path("purchase-orders/", api.PurchaseOrderListCreateApi.as_view(), name="inbound-purchase-orders"),
    path("purchase-orders/<int:pk>/", api.PurchaseOrderDetailApi.as_view(), name="inbound-purchase-order"),
    path("returns/", api.ReturnListCreateApi.as_view(), name="inbound-returns"),
    path("returns/<int:pk>/", api.ReturnDetailApi.as_view(), name="inbound-return"),
]
