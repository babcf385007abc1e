"""This project's own tests: a module's tests in ``test_<module>.py``, tests of the whole across
modules in ``system/``, browser tests in ``browser/`` (see ARCHITECTURE.md)."""

from pathlib import Path

#: The root of the checkout: README.md, pyproject.toml, example_project/.
CHECKOUT = Path(__file__).resolve().parent.parent
