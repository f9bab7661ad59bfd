"""tts-dsl: a checked, declarative language for test-time-scaling controllers.

The public API (`autotts_dsl.api`, documented in docs/api.md) is available
from the package itself, loaded on first use so that importing the package
(and `tts-dsl --help`) stays cheap:

    import autotts_dsl as tts
    df = tts.run(tts.load("cmc"), "autotts/Qwen3-8B/aime24", betas=[0.5, 1.0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = (
    "COLUMNS",
    "EPISODE_COLUMNS",
    "Program",
    "ProgramError",
    "check",
    "episodes",
    "load",
    "plot",
    "run",
    "stores",
    "sweep",
)

if TYPE_CHECKING:
    from .api import COLUMNS as COLUMNS
    from .api import EPISODE_COLUMNS as EPISODE_COLUMNS
    from .api import Program as Program
    from .api import ProgramError as ProgramError
    from .api import check as check
    from .api import episodes as episodes
    from .api import load as load
    from .api import plot as plot
    from .api import run as run
    from .api import stores as stores
    from .api import sweep as sweep

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'autotts_dsl' has no attribute {name!r}")
