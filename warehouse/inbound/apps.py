from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "warehouse.inbound"
    label = "inbound"
    verbose_name = "Warehouse inbound and control"

    def ready(self) -> None:
        from fulfil import demo
        from fulfil.celery import add_periodic
        from warehouse.inbound import handlers  # noqa: F401 - registers outbox handlers
        from warehouse.inbound.demo import load_demo

        add_periodic("inbound-count-schedule", "warehouse.inbound.tasks.count_schedule", 24 * 3600.0)
        demo.register(45, "inbound", load_demo)
