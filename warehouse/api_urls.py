from django.urls import path

from warehouse import api

urlpatterns = [
    path("waves/", api.WaveListApi.as_view(), name="api-waves"),
    path("carts/<int:batch_id>/", api.CartDetailApi.as_view(), name="api-cart"),
]
