"""The markup the picker renders, spelled out once for the exact-HTML tests of every surface
(the template tag, the form widget)."""

from __future__ import annotations

ROW_TEMPLATE = """<template data-presigned-file-template><li class="presigned-file"
    data-state="waiting"><span class="presigned-file__name"></span>
    <progress class="presigned-file__progress" max="100" value="0" aria-label=""></progress>
    <span class="presigned-file__text"></span>
    <button class="presigned-file__cancel" type="button" aria-label="">Cancel</button>
    <a class="presigned-file__download" href="" aria-label="" hidden>Download</a>
    <button class="presigned-file__remove" type="button" aria-label="" hidden>Remove</button>
    <p class="presigned-file__error" hidden></p></li></template>"""


def picker_inside(picker_id: str) -> str:
    """What the picker with id *picker_id* holds with the default policy, label to status line."""
    return f"""
          <label class="presigned-picker__label"
                 for="{picker_id}-input">Choose a file</label>
          <input class="presigned-picker__input" type="file" id="{picker_id}-input"
                 accept="application/pdf,image/jpeg,image/png,image/gif,image/webp"
                 aria-describedby="{picker_id}-help">
          <p class="presigned-picker__help" id="{picker_id}-help">
            PDF, JPEG, PNG, GIF or WebP, up to 20.0\xa0MB. You can also drop a file here.</p>
          <noscript><p class="presigned-picker__noscript">Uploading needs JavaScript, which is
            turned off in this browser.</p></noscript>
          <ul class="presigned-picker__files" data-presigned-files></ul>
          {ROW_TEMPLATE}
          <p class="presigned-picker__notice" data-presigned-notice hidden></p>
          <p class="presigned-picker__status presigned-visually-hidden" role="status"
             aria-live="polite" data-presigned-status></p>
    """
