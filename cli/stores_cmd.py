"""`tts-dsl stores`: placeholder until the store registry lands."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("stores", help="list and import replay stores")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return 0
