from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "integrations.carriers"
    label = "carriers"
    verbose_name = "Carriers"
