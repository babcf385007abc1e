from django.conf import settings
from django.db import models

from presigned_transfers.models import Upload


class Document(models.Model):
    """A host model pointing at an upload: what UploadField is for."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    attachment = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title
