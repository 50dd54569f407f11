"""The shop's workers, for ``burro run --app examples.shop.workers``.

They ship inside burro as :mod:`burro.demo.workers` (``burro demo`` runs the same ones),
so this module only re-exports them. To start your own app, copy that file here and edit
it: any module whose functions or classes carry ``@burro.worker`` will do.
"""

from __future__ import annotations

from burro.demo import workers as _shipped
from burro.demo.workers import *  # noqa: F403

__all__ = _shipped.__all__
