from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "integrations.carriers"
    label = "carriers"
    verbose_name = "Carriers"

    def ready(self) -> None:
        from fulfil import demo
        from fulfil.celery import add_periodic

        from . import demo as carriers_demo
        from . import privacy  # noqa: F401  (registers the order.customer_redacted handler)

        add_periodic("carriers-poll-quiet-trackers", "integrations.carriers.tasks.poll_quiet_trackers", 3600)
        demo.register(30, "carriers", carriers_demo.load)
        __import__("integrations.carriers.routing", fromlist=["register"]).register()  # routing's live rates
