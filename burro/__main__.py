"""``python -m burro``: the same as the ``burro`` command."""

from __future__ import annotations

from burro.cli import main

if __name__ == "__main__":
    main()
