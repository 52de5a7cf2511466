"""Page modules beside the core views: each registers its routes on the one blueprint, its
words (webui.words.add) and its header link (webui.nav.add) when imported."""

from __future__ import annotations

import importlib
import pkgutil


def load() -> None:
    for found in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{found.name}")
