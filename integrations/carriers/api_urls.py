from django.urls import path

from . import api

urlpatterns = [
    path("shipments/", api.ShipmentListApi.as_view(), name="shipments"),
    path("shipments/<int:shipment_id>/", api.ShipmentDetailApi.as_view(), name="shipment"),
    path("shipments/<int:shipment_id>/void/", api.ShipmentVoidApi.as_view(), name="shipment-void"),
    path("rates/", api.RateQuoteApi.as_view(), name="rates"),
]
