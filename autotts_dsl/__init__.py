"""tts-dsl: a checked, declarative language for test-time-scaling controllers.

The public API (`autotts_dsl.api`, documented in docs/api.md) is available
from the package itself, loaded on first use so that importing the package
(and `tts-dsl --help`) stays cheap:

    import autotts_dsl as tts
    df = tts.run(tts.load("cmc"), "autotts/Qwen3-8B/aime24", betas=[0.5, 1.0])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import *  # noqa: F403


def _api() -> Any:
    # importlib, not `from . import api`: that would look `api` up through
    # this module's __getattr__ before the submodule is loaded.
    return importlib.import_module(f"{__name__}.api")


def __getattr__(name: str) -> Any:
    api = _api()
    if name in api.EXPORTS:
        return getattr(api, name)
    raise AttributeError(f"module 'autotts_dsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_api().EXPORTS])
