from django.urls import path

from accounts import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("api-keys/", api.ApiKeyListApi.as_view(), name="api-keys"),
]
