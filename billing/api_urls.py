from django.urls import path

from billing import api

urlpatterns = [
    path("pricing/quote/", api.PricingQuoteApi.as_view(), name="pricing-quote"),
    path("orders/<int:order_id>/costs/", api.OrderCostsApi.as_view(), name="order-costs"),
    path("invoices/", api.InvoiceListApi.as_view(), name="invoices"),
    path("invoices/<int:pk>/", api.InvoiceDetailApi.as_view(), name="invoice"),
    path("invoices/<int:pk>/pdf/", api.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path("volume/", api.VolumeApi.as_view(), name="volume"),
]
