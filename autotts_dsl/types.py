"""The value types of tts-dsl."""

from __future__ import annotations

from enum import Enum


class T(Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    ANSWER = "answer"  # an interned answer, or `none`
    BRANCH = "branch"  # an opened branch (its index)
    SET = "set"  # a snapshot of branches, in index order
    ANSWERS = "answers"  # a list of answers (e.g. `completed`), in order
    WINDOW = "window"  # a bounded FIFO of floats
    VOTES = "votes"  # a tally: answer -> weight, in order of first vote
    GEN = "generator"  # `expr for b in SET`: only as an aggregate's argument
    NONE = "none"  # the type of the literal `none` (coerces to answer)
    VOID = "void"  # effect-only builtins

    def __str__(self) -> str:
        return self.value


NUMERIC = (T.INT, T.FLOAT)

# Types a `state`/`branch` variable or a `param` may be declared with.
DECLARABLE = {"int": T.INT, "float": T.FLOAT, "bool": T.BOOL, "answer": T.ANSWER}


def accepts(param: T, arg: T) -> bool:
    """Can a value of type `arg` be passed where `param` is expected?"""
    if param is arg:
        return True
    if param is T.FLOAT and arg is T.INT:
        return True  # ints promote to floats
    return param is T.ANSWER and arg is T.NONE


def unify_numeric(a: T, b: T) -> T:
    return T.INT if a is T.INT and b is T.INT else T.FLOAT
