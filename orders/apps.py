from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from fulfil import demo
        from fulfil.celery import add_periodic
        from orders import demo as orders_demo
        from orders import handlers  # noqa: F401 - registers outbox handlers

        demo.register(40, "demo orders", orders_demo.load)

        add_periodic("orders-sweep-new", "orders.tasks.orders_sweep_new", 60.0)
