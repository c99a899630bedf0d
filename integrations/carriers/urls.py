from django.urls import path

from . import views

app_name = "carriers"
urlpatterns = [
    path("", views.shipment_list, name="home"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/new/", views.account_new, name="account_new"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/test/", views.account_test, name="account_test"),
    path("accounts/<int:pk>/toggle/", views.account_toggle, name="account_toggle"),
    path("operator/accounts/", views.operator_account_list, name="operator_accounts"),
    path("operator/scan-forms/", views.scan_forms_create, name="scan_forms_create"),
    path("rules/<str:level>/", views.rules_edit, name="rule"),
    path("rates/", views.rates_compare, name="rates"),
    path("shipments/", views.shipment_list, name="shipments"),
    path("shipments/<int:pk>/", views.shipment_detail, name="shipment"),
    path("shipments/<int:pk>/void/", views.shipment_void, name="shipment_void"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/<int:pk>/decide/", views.address_decide, name="address_decide"),
]
