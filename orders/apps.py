from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from fulfil.celery import add_periodic
        from orders import handlers  # noqa: F401 - registers outbox handlers

        add_periodic("orders-sweep-new", "orders.tasks.orders_sweep_new", 60.0)
