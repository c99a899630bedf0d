from django.urls import path

from orders import api

urlpatterns = [
    path("orders/", api.OrderListCreateApi.as_view(), name="orders"),
    path("orders/<int:order_id>/", api.OrderDetailApi.as_view(), name="order"),
    path("orders/<int:order_id>/cancel/", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:order_id>/hold/", api.OrderHoldApi.as_view(), name="order-hold"),
    path("orders/<int:order_id>/release/", api.OrderReleaseApi.as_view(), name="order-release"),
    path("orders/<int:order_id>/history/", api.OrderHistoryApi.as_view(), name="order-history"),
]
