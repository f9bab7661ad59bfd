"""Engine selection: the VM is there when it should be, `auto` and explicit
choices, unknown names."""

from __future__ import annotations

import pytest

from autotts_dsl import vm
from autotts_dsl.engines import BACKENDS, BackendError, check_backend, default_backend
from autotts_dsl.programs import load_program
from autotts_dsl.replay import registry
from tests.conftest import in_ci


def test_vm_is_built() -> None:
    """The VM extension was compiled at install: CI must never fall back silently."""
    if not vm.available():
        if in_ci():
            pytest.fail("CI=true: the VM extension autotts_dsl._vm is not built", pytrace=False)
        pytest.skip("the VM extension is not built (no C compiler at install?)")


def test_backend_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BACKENDS == ("auto", "vm", "reference")
    monkeypatch.setenv("TTS_DSL_BACKEND", "reference")
    assert default_backend() == "reference"
    monkeypatch.setenv("TTS_DSL_BACKEND", "nonsense")
    assert default_backend() == "auto"
    with pytest.raises(BackendError, match="unknown backend `numba`"):
        check_backend("numba")


@pytest.mark.vm
def test_auto_picks_the_vm_and_traces_pick_the_reference() -> None:
    runner = load_program("cmc")
    store = registry.resolve_store("default")
    assert runner.evaluate(store, 0.5, seeds=range(2)).backend == "vm"
    traces: list[list[dict[str, object]]] = []
    ev = runner.evaluate(store, 0.5, seeds=range(2), traces=traces)
    assert ev.backend == "reference" and len(traces) == 2 * len(store)
