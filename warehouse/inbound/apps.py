from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "warehouse.inbound"
    label = "inbound"
    verbose_name = "Warehouse inbound and control"
