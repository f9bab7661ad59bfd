"""`@record` behaves as `@dataclass(frozen=True)`: each case builds the same
class both ways and compares what a user of the class can observe."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import pytest

from autotts_dsl.records import record


def pair(body: dict[str, Any], annotations: dict[str, str], name: str = "C") -> tuple[Any, Any]:
    def make(deco: Any) -> Any:
        ns = {**body, "__annotations__": dict(annotations), "__module__": __name__}
        return deco(type(name, (), ns))

    return make(dataclass(frozen=True)), make(record)


def observe(cls: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    a, b = cls(*args, **kwargs), cls(*args, **kwargs)
    got: dict[str, Any] = {
        "signature": str(inspect.signature(cls)),
        "repr": repr(a),
        "eq": a == b,
        "hash": hash(a) == hash(b),
        "fields": [(f.name, f.init, f.repr, f.compare, f.kw_only) for f in dataclasses.fields(cls)],
        "asdict": dataclasses.asdict(a),
        "match_args": getattr(cls, "__match_args__", None),
        "copied": copy.deepcopy(a) == a,
    }
    for target in (*(f.name for f in dataclasses.fields(cls)), "other"):
        with pytest.raises(FrozenInstanceError):
            setattr(a, target, 1)
        with pytest.raises(FrozenInstanceError):
            delattr(a, target)
    return got


CASES: list[tuple[dict[str, Any], dict[str, str], tuple[Any, ...], dict[str, Any]]] = [
    ({}, {}, (), {}),
    ({}, {"a": "int", "b": "str"}, (1, "x"), {}),
    ({"b": 2.5}, {"a": "int", "b": "float"}, (1,), {}),
    ({"b": field(default=0, compare=False, repr=False)}, {"a": "int", "b": "int"}, (1, 7), {}),
    ({"s": field(default=(0, 0), kw_only=True)}, {"a": "int", "s": "tuple"}, (3,), {"s": (1, 2)}),
    ({"xs": field(default_factory=tuple)}, {"a": "int", "xs": "tuple"}, (3,), {}),
    ({"c": field(default=5, init=False)}, {"a": "int", "c": "int"}, (3,), {}),
    ({"h": field(default=1, hash=False)}, {"a": "int", "h": "int"}, (3,), {"h": 9}),
]


@pytest.mark.parametrize(("body", "annotations", "args", "kwargs"), CASES)
def test_a_record_is_observably_a_frozen_dataclass(
    body: dict[str, Any], annotations: dict[str, str], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    frozen, rec = pair(body, annotations)
    assert observe(rec, *args, **kwargs) == observe(frozen, *args, **kwargs)
    if args:
        changed = dataclasses.replace(rec(*args, **kwargs), **{next(iter(annotations)): 99})
        want = dataclasses.replace(frozen(*args, **kwargs), **{next(iter(annotations)): 99})
        assert repr(changed) == repr(want)


def test_equality_needs_the_same_class_and_compares_only_compared_fields() -> None:
    @record
    class Base:
        span: int = field(default=0, compare=False, repr=False, kw_only=True)

    @record
    class Lit(Base):
        value: int

    @record
    class Other(Base):
        value: int

    assert Lit(1, span=5) == Lit(1, span=9) and hash(Lit(1, span=5)) == hash(Lit(1, span=9))
    assert Lit(1) != Other(1) and Lit(1) != Lit(2)
    assert repr(Lit(1, span=3)).endswith("Lit(value=1)")
    assert Lit(1).__eq__(1) is NotImplemented
    assert dataclasses.is_dataclass(Lit) and [f.name for f in dataclasses.fields(Lit)] == [
        "span",
        "value",
    ]


def test_post_init_runs_and_factories_are_fresh() -> None:
    seen: list[int] = []

    @record
    class P:
        a: int
        xs: list[int] = field(default_factory=list)

        def __post_init__(self) -> None:
            seen.append(self.a)

    p, q = P(1), P(2)
    assert seen == [1, 2] and p.xs is not q.xs


def test_recursive_repr_does_not_loop() -> None:
    @record
    class Box:
        items: list[Any]

    b = Box([])
    b.items.append(b)
    assert repr(b).endswith("Box(items=[...])")


@record
class Pickled:
    a: int
    b: tuple[int, ...] = field(default=(), compare=False)


def test_records_pickle_and_copy() -> None:
    x = Pickled(1, (2, 3))
    for y in (pickle.loads(pickle.dumps(x)), copy.copy(x), copy.deepcopy(x)):
        assert y == x and y.b == (2, 3) and type(y) is Pickled


def test_methods_are_compiled_on_first_use_and_the_signature_is_there_before() -> None:
    @record
    class Lazy:
        a: int
        b: str = "x"

    assert all(hasattr(Lazy.__dict__[n], "_record_stub") for n in ("__init__", "__repr__"))
    assert str(inspect.signature(Lazy)) == "(a: 'int', b: 'str' = 'x') -> None"
    x = Lazy(1)
    assert not hasattr(Lazy.__dict__["__init__"], "_record_stub")
    assert hasattr(Lazy.__dict__["__hash__"], "_record_stub")  # not called yet
    assert hash(x) == hash(Lazy(1)) and repr(x).endswith(".Lazy(a=1, b='x')")
    assert not hasattr(Lazy.__dict__["__hash__"], "_record_stub")


def test_a_method_the_class_defines_is_kept_as_dataclass_keeps_it() -> None:
    body = {"__repr__": lambda self: "mine", "__eq__": lambda self, other: True}
    frozen, rec = pair(body, {"a": "int"})
    for cls in (frozen, rec):
        assert repr(cls(1)) == "mine" and cls(1) == cls(2)


def observe_mutable(cls: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    a, b = cls(*args, **kwargs), cls(*args, **kwargs)
    got: dict[str, Any] = {
        "signature": str(inspect.signature(cls)),
        "repr": repr(a),
        "eq": a == b,
        "hash": cls.__hash__,
        "fields": [(f.name, f.init, f.repr, f.compare, f.kw_only) for f in dataclasses.fields(cls)],
        "asdict": dataclasses.asdict(a),
        "match_args": getattr(cls, "__match_args__", None),
        "copied": copy.deepcopy(a) == a,
    }
    for target in (*(f.name for f in dataclasses.fields(cls)), "other"):
        setattr(a, target, 1)
        got[f"set {target}"] = getattr(a, target)
    got["after"] = a == b
    return got


@pytest.mark.parametrize(("body", "annotations", "args", "kwargs"), CASES)
def test_a_mutable_record_is_observably_a_dataclass(
    body: dict[str, Any], annotations: dict[str, str], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    def make(deco: Any) -> Any:
        ns = {**body, "__annotations__": dict(annotations), "__module__": __name__}
        return deco(type("M", (), ns))

    plain, rec = make(dataclass), make(record(frozen=False))
    assert observe_mutable(rec, *args, **kwargs) == observe_mutable(plain, *args, **kwargs)


def test_a_mutable_record_assigns_through_the_class_setattr() -> None:
    seen: list[str] = []

    @record(frozen=False)
    class Watched:
        a: int
        b: list[int] = field(default_factory=list)

        def __setattr__(self, name: str, value: Any) -> None:
            seen.append(name)
            object.__setattr__(self, name, value)

    w = Watched(1)
    w.a = 2
    assert seen == ["a", "b", "a"] and w == Watched(2) and Watched.__hash__ is None
