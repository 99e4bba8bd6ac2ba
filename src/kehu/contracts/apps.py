from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "kehu.contracts"
    label = "contracts"
    verbose_name = _("Contracts and payments")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.contracts import demo, payments_setup
        from kehu.contracts import sections as contract_sections
        from kehu.contracts.grading import contract_grade_input
        from kehu.contracts.services.contracts import drafting_task_for_stage
        from kehu.contracts.views.contracts import review_panel
        from kehu.core import dashboard
        from kehu.core import demo as core_demo
        from kehu.customers import grading
        from kehu.opportunities import hooks

        # 成交 needs an approved contract; the deal page shows the contract card.
        contract_sections.register()
        # Entering the agreement stage (谈判签约) gives the owner the drafting task.
        hooks.on_stage_entered(drafting_task_for_stage)
        core_demo.register(demo.CONTRACTS)
        dashboard.register(review_panel)
        payments_setup.register()
        # The payment record and repeat orders feed the customer grade (the payment and
        # review services regrade the customer after their commit).
        grading.register_grade_input(contract_grade_input)
