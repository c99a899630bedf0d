from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import demo, handlers
        from billing.models import PaymentMethod
        from fulfil import demo as demo_registry
        from fulfil import onboarding
        from fulfil.celery import add_periodic
        from orders.guards import register_release_guard

        register_release_guard(handlers.credit_release_guard, key="billing.credit", per_merchant=True)
        from billing.panels import order_cost_panel
        from orders.panels import register_detail_panel

        register_detail_panel(order_cost_panel, key="billing-cost", position=20)

        demo_registry.register(70, "billing: rate cards, charges and an invoice", demo.load)
        onboarding.register(
            onboarding.Step(
                key="payment_method",
                title="Add a payment method",
                order=80,
                is_done=lambda m: (
                    PaymentMethod.objects.for_merchant(m)
                    .filter(removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE)
                    .exists()
                ),
                url_name="billing:payment_methods",
                help="Invoices are paid automatically at the end of each billing cycle.",
            )
        )
        add_periodic("billing-issue-invoices", "billing.tasks.invoices_issue_due_task", 3600)
        add_periodic("billing-close-commitments", "billing.tasks.commitment_periods_close_task", 3600)
        add_periodic("billing-retry-payments", "billing.tasks.invoices_retry_due_task", 3600)
        add_periodic("billing-storage-nightly", "billing.tasks.storage_charge_nightly_task", 6 * 3600)
