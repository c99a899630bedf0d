from django.urls import path

from integrations import api

urlpatterns = [
    path("channels/", api.ConnectionListApi.as_view(), name="channels"),
    path("channels/<int:pk>/", api.ConnectionDetailApi.as_view(), name="channel"),
    path("channels/<int:pk>/health/", api.ConnectionHealthApi.as_view(), name="channel-health"),
    path("channels/<int:pk>/test/", api.ConnectionTestApi.as_view(), name="channel-test"),
    path("channels/<int:pk>/sync/", api.ConnectionSyncApi.as_view(), name="channel-sync"),
]
