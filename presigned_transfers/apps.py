from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PresignedTransfersConfig(AppConfig):
    name = "presigned_transfers"
    verbose_name = _("Presigned transfers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from presigned_transfers import checks, receivers  # noqa: F401 - connects receivers

        checks.register()
