from django.apps import AppConfig


class FulfilConfig(AppConfig):
    name = "fulfil"
    verbose_name = "Platform"
