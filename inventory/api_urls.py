from django.urls import path

from inventory import api

urlpatterns = [
    path("products/", api.ProductListCreateApi.as_view(), name="products"),
    path("products/<str:sku>/", api.ProductDetailApi.as_view(), name="product"),
    path("products/<str:sku>/photos/", api.ProductPhotoListApi.as_view(), name="product-photos"),
    path(
        "products/<str:sku>/photos/<int:photo_id>/",
        api.ProductPhotoDetailApi.as_view(),
        name="product-photo",
    ),
    path("warehouses/", api.WarehouseListApi.as_view(), name="warehouses"),
    path("inventory/", api.InventoryListApi.as_view(), name="inventory"),
    path("inventory/movements/", api.MovementListApi.as_view(), name="inventory-movements"),
    path("inbound-shipments/", api.InboundListCreateApi.as_view(), name="inbound-shipments"),
    path("inbound-shipments/<int:shipment_id>/", api.InboundDetailApi.as_view(), name="inbound-shipment"),
    path(
        "inbound-shipments/<int:shipment_id>/receive/",
        api.InboundReceiveApi.as_view(),
        name="inbound-shipment-receive",
    ),
]
