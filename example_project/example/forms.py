from django import forms

from example.models import Document
from presigned_transfers.forms import UploadField, UploadFormMixin


class DocumentForm(UploadFormMixin, forms.ModelForm):
    # Only the signed-in user's complete uploads are accepted (checked on the server).
    attachment = UploadField(picker_label="Choose the file")

    class Meta:
        model = Document
        fields = ["title", "attachment"]
