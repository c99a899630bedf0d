from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Sales channels"

    def ready(self) -> None:
        from fulfil import demo as demo_registry
        from fulfil import onboarding
        from fulfil.celery import add_periodic
        from integrations import demo, handlers  # noqa: F401 - registers the outbox handlers
        from integrations.selectors import has_connected_channel

        add_periodic("integrations-sweep", "integrations.tasks.sweep", 15.0)
        add_periodic("integrations-reconcile", "integrations.tasks.reconcile_all", 300.0)
        add_periodic("integrations-alerts", "integrations.tasks.alerts_check", 300.0)
        demo_registry.register(60, "sales channels", demo.load)
        onboarding.register(
            onboarding.Step(
                key="sales_channel",
                title="Connect a sales channel",
                order=40,
                is_done=has_connected_channel,
                url_name="integrations:index",
                help="Shopify, WooCommerce, Amazon, eBay or Walmart — orders start flowing in minutes.",
            )
        )
