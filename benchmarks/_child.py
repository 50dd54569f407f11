"""Entry point of a measurement that needs a clean process.

``python -m benchmarks._child pkg.module:function '{"key": value}'`` calls the function
with those keyword arguments and prints its result, a JSON object, as the last line.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def call(target: str, kwargs: dict[str, Any]) -> Any:
    """Import ``module:function`` and call it with ``kwargs``."""
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(**kwargs)


def main(argv: list[str]) -> None:
    """Run the call named on the command line and print its result."""
    target, raw = argv
    result = call(target, json.loads(raw))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
