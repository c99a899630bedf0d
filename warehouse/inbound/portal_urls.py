"""Public pages of the customer return portal (no account): ``/returns/<token>/``."""

from django.urls import path

from warehouse.inbound import portal

app_name = "return_portal"
urlpatterns = [
    path("<str:token>/", portal.lookup, name="lookup"),
    path("<str:token>/order/", portal.order_page, name="order"),
    path("<str:token>/done/<int:rma_id>/", portal.done, name="done"),
]
