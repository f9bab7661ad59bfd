"""`@record`: `@dataclass(frozen=True)` at a fraction of the import cost.

Python 3.11's `dataclass` compiles each generated method on its own; the
~80 frozen dataclasses that `tts-dsl check` imports (AST nodes, diagnostics,
the checker's values) spent ~0.05 s of its start-up doing that. `record`
makes the same class: `dataclasses` still reads the fields (so `fields`,
`replace`, `asdict`, `is_dataclass`, `__match_args__` and pickling work
unchanged) but generates nothing. `__init__`, `__repr__`, `__eq__` and
`__hash__` are compiled on their first call (unless the class
defines them, as with `dataclass`), each from a line or two of
source; until then the class holds a stub that compiles the method, puts it
on the class and calls it. Most classes a process imports never see most of
their methods called (an AST read back from the parse cache is built
without `__init__`), so most are never compiled. `__setattr__` and
`__delattr__` need no source. The semantics are `@dataclass(frozen=True)`'s:
defaults and factories, keyword-only fields, `init=False`, `repr=False`,
`compare=False`, `hash=`, `__post_init__`, equality only between instances
of the same class, hashing of the compared fields, assignment refused.
tests/test_records.py checks it against `dataclass` itself.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

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

_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__")


def _as_tuple(obj: str, names: list[str]) -> str:
    return "(" + "".join(f"{obj}.{n}," for n in names) + ")"


def _init_source(
    fields: tuple[Field[Any], ...], env: dict[str, Any], cls: type, frozen: bool
) -> str:
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
        # A frozen class refuses `self.x = ...`; a mutable one assigns as dataclass does.
        body.append(
            f"  _setattr(self, {f.name!r}, {value})" if frozen else f"  self.{f.name} = {value}"
        )
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    return "\n".join([f"def __init__({', '.join(params)}):", *(body or ["  pass"])])


def _source(cls: type, name: str, frozen: bool, env: dict[str, Any]) -> str:
    fields = dataclasses.fields(cls)
    if name == "__init__":
        return _init_source(fields, env, cls, frozen)
    if name == "__repr__":
        shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
        return f"def __repr__(self):\n  return f'{{self.__class__.__qualname__}}({shown})'"
    if name == "__eq__":
        compared = [f.name for f in fields if f.compare]
        return (
            "def __eq__(self, other):\n"
            "  if other.__class__ is self.__class__:\n"
            f"    return {_as_tuple('self', compared)} == {_as_tuple('other', compared)}\n"
            "  return NotImplemented"
        )
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
    return f"def __hash__(self):\n  return hash({_as_tuple('self', hashed)})"


def _build(cls: type, name: str, frozen: bool) -> Callable[..., Any]:
    """Compile `cls`'s generated method `name` and put it on the class."""
    env: dict[str, Any] = {"_FACTORY": _FACTORY, "_setattr": object.__setattr__}
    exec(_source(cls, name, frozen, env), env)
    fn = env[name]
    if name == "__repr__":
        fn = reprlib.recursive_repr()(fn)
    elif name == "__init__":
        fn.__annotations__ = {f.name: f.type for f in dataclasses.fields(cls) if f.init} | {
            "return": None
        }
    fn.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, fn)
    return fn  # type: ignore[no-any-return]  # exec'd


def _stub(cls: type, name: str, frozen: bool) -> Callable[..., Any]:
    def stub(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _build(cls, name, frozen)(self, *args, **kwargs)

    stub.__qualname__ = f"{cls.__qualname__}.{name}"
    stub._record_stub = (cls, name, frozen)  # type: ignore[attr-defined]  # marks it for __signature__
    return stub


class _Signature:
    """`inspect.signature(cls)` before `__init__` is compiled: compile it first."""

    def __get__(self, obj: object, owner: type) -> inspect.Signature:
        init = inspect.getattr_static(owner, "__init__")
        target = getattr(init, "_record_stub", None)
        if target is not None:
            init = _build(*target)
        sig = inspect.signature(init)
        return sig.replace(parameters=list(sig.parameters.values())[1:])


_SIGNATURE = _Signature()


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = True) -> Any:
    """Decorate a class like `@dataclass(frozen=True)`; `@record(frozen=False)`
    is `@dataclass` (assignable fields, no hash)."""
    if cls is None:
        return lambda c: _make(c, frozen)
    return _make(cls, frozen)


def _make(cls: type[T], frozen: bool) -> type[T]:
    if cls.__dict__.get("__doc__") is None:
        # What dataclass would write, without the inspect.signature it costs.
        hints = inspect.get_annotations(cls)
        cls.__doc__ = f"{cls.__name__}({', '.join(hints)})"
    written = {n for n in _GENERATED if cls.__dict__.get(n) is not None}  # the class's own win
    cls = dataclass(init=False, repr=False, eq=False)(cls)
    for name in _GENERATED:
        if name in written:
            continue
        if name == "__hash__" and not frozen:
            cls.__hash__ = None  # type: ignore[assignment]  # as dataclass(eq=True) does
        else:
            setattr(cls, name, _stub(cls, name, frozen))
    cls.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
    if frozen:
        _refuse_assignment(cls)
    return cls


def _refuse_assignment(cls: type[Any]) -> None:
    names = frozenset(f.name for f in dataclasses.fields(cls))
    base: Any = cls  # for super(): mypy narrows `cls` after the `is` test

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(base, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(base, self).__delattr__(name)

    for fn in (__setattr__, __delattr__):
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
