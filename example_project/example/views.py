"""The demo's pages. Uploading and downloading go through presigned_transfers' own endpoints;
these views only render pages and handle the no-JavaScript delete form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from example.forms import DocumentForm
from example.models import Document
from presigned_transfers import exceptions, services
from presigned_transfers.models import Upload


def home(request: HttpRequest) -> HttpResponse:
    return redirect("upload" if request.user.is_authenticated else "login")


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    return render(request, "example/upload.html")


@login_required
def files(request: HttpRequest) -> HttpResponse:
    uploads = Upload.objects.owned_by(request.user).complete()
    return render(request, "example/files.html", {"uploads": uploads})


@require_POST
@login_required
def delete(request: HttpRequest, upload_id: str) -> HttpResponse:
    try:
        upload = services.get_owned_upload(request.user, upload_id)
        services.delete_upload(user=request.user, upload_id=upload_id)
    except exceptions.TransferError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Deleted {upload.original_filename}.")
    return redirect("files")


@login_required
def documents(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        document = form.save(commit=False)
        document.owner = request.user
        document.save()
        messages.success(request, f"Saved “{document.title}”.")
        return redirect("documents")
    return render(
        request,
        "example/documents.html",
        {
            "form": form,
            "documents": Document.objects.filter(owner=request.user).select_related("attachment"),
        },
    )
