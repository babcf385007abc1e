from django.contrib import admin

from example.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "attachment", "created_at")
    raw_id_fields = ("attachment",)
