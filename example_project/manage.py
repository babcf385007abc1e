#!/usr/bin/env python
"""The demo site's manage.py. Start everything with: python example_project/manage.py demo"""

import os
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    # The example app lives next to this file; the presigned_transfers package is installed
    # (pip install -e ".[demo]"), or importable from the repository root.
    sys.path[:0] = [str(here), str(here.parent)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
