"""`@record`: `@dataclass(frozen=True)` at half the import cost.

Python 3.11's `dataclass` compiles each generated method on its own; the
~80 frozen dataclasses that `tts-dsl check` imports (AST nodes, diagnostics,
the checker's values) spent ~0.05 s of its start-up doing that. `record`
makes the same class: `dataclasses` still reads the fields (so `fields`,
`replace`, `asdict`, `is_dataclass`, `__match_args__` and pickling work
unchanged) but generates nothing, and `__init__`, `__repr__`, `__eq__`,
`__hash__`, `__setattr__` and `__delattr__` are compiled from one source,
with `@dataclass(frozen=True)`'s semantics: defaults and factories,
keyword-only fields, `init=False`, `repr=False`, `compare=False`,
`hash=`, `__post_init__`, equality only between instances of the same class,
hashing of the compared fields, assignment refused. tests/test_records.py
checks it against `dataclass` itself.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from dataclasses import MISSING, FrozenInstanceError, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # typing has it from 3.11; typing_extensions' stub serves the checker
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Any:
        return lambda decorator: decorator


__all__ = ["record"]

T = TypeVar("T")


class _Factory:
    """The default of a parameter whose value comes from a factory."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """Decorate a class like `@dataclass(frozen=True)`."""
    if cls.__dict__.get("__doc__") is None:
        # What dataclass would write, without the inspect.signature it costs.
        hints = inspect.get_annotations(cls)
        cls.__doc__ = f"{cls.__name__}({', '.join(hints)})"
    cls = dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # a dataclass from the line above
    env: dict[str, Any] = {
        "cls": cls,
        "_FACTORY": _FACTORY,
        "_setattr": object.__setattr__,
        "FrozenInstanceError": FrozenInstanceError,
        "_names": frozenset(f.name for f in fields),
    }
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields:
        dflt, fact = f"_dflt_{f.name}", f"_fact_{f.name}"
        has_factory = f.default_factory is not MISSING
        if has_factory:
            env[fact] = f.default_factory
            env[dflt] = _FACTORY
        elif f.default is not MISSING:
            env[dflt] = f.default
        has_default = has_factory or f.default is not MISSING
        if f.init:
            param = f"{f.name}={dflt}" if has_default else f.name
            (keyword if f.kw_only else positional).append(param)
            value = f"{fact}() if {f.name} is _FACTORY else {f.name}" if has_factory else f.name
        elif has_factory:
            value = f"{fact}()"
        elif has_default:
            value = dflt
        else:
            continue  # init=False without a default: left unset, as dataclass does
        body.append(f"  _setattr(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]

    def as_tuple(obj: str, names: list[str]) -> str:
        return "(" + "".join(f"{obj}.{n}," for n in names) + ")"

    src = "\n".join(
        [
            f"def __init__({', '.join(params)}):",
            *(body or ["  pass"]),
            "def __repr__(self):",
            f"  return f'{{self.__class__.__qualname__}}({shown})'",
            "def __eq__(self, other):",
            "  if other.__class__ is self.__class__:",
            f"    return {as_tuple('self', compared)} == {as_tuple('other', compared)}",
            "  return NotImplemented",
            "def __hash__(self):",
            f"  return hash({as_tuple('self', hashed)})",
            "def __setattr__(self, name, value):",
            "  if type(self) is cls or name in _names:",
            "    raise FrozenInstanceError(f'cannot assign to field {name!r}')",
            "  super(cls, self).__setattr__(name, value)",
            "def __delattr__(self, name):",
            "  if type(self) is cls or name in _names:",
            "    raise FrozenInstanceError(f'cannot delete field {name!r}')",
            "  super(cls, self).__delattr__(name)",
        ]
    )
    exec(src, env)
    env["__repr__"] = reprlib.recursive_repr()(env["__repr__"])
    env["__init__"].__annotations__ = {f.name: f.type for f in fields if f.init} | {"return": None}
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
        fn = env[name]
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, fn)
    return cls
