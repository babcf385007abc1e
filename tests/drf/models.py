"""What a host project's models look like: rows pointing at uploads (no migrations: test-only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from presigned_transfers.models import Upload


class Document(models.Model):
    """One attachment: what ``UploadField`` is for."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    attachment = models.ForeignKey(Upload, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return self.title


class Album(models.Model):
    """Several uploads: what ``UploadField(many=True)`` is for."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    pictures = models.ManyToManyField(Upload, related_name="+", blank=True)

    def __str__(self) -> str:
        return self.title
