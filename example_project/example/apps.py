from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "example"
    verbose_name = "Demo site"
    default_auto_field = "django.db.models.BigAutoField"
