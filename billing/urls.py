from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("settings/", views.account_settings, name="settings"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf_view, name="invoice_pdf"),
    path("invoices/<int:pk>/pay/", views.invoice_pay, name="invoice_pay"),
    path("lines/<int:pk>/", views.line_detail, name="line_detail"),
    path("lines/<int:pk>/dispute/", views.line_dispute, name="line_dispute"),
    path("payment-methods/", views.payment_methods, name="payment_methods"),
    path("payment-methods/<int:pk>/verify/", views.payment_method_verify, name="payment_method_verify"),
    path("payment-methods/<int:pk>/<str:action>/", views.payment_method_action, name="payment_method_action"),
    path("costs/", views.costs, name="costs"),
    path("orders/<int:order_id>/cost/", views.order_cost_fragment, name="order_cost"),
    path("volume/", views.volume, name="volume"),
    path("estimates/", views.estimates, name="estimates"),
    path("statements/", views.statements, name="statements"),
    path("operator/", views.operator_desk, name="operator"),
]
