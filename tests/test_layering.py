"""The house is layered one way (grammar → AST → checker → compiler →
engines → sweeps/search; the CLI wires): no module-level import cycles
inside `autotts_dsl`, and the library never imports the CLI.

Imports inside functions and under `TYPE_CHECKING` are deliberate (lazy
start-up, typing only) and are not edges here.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autotts_dsl"


def package_files() -> list[Path]:
    """Every module, through the symlinks that put cli/ and replay/ (top level
    of the repository) inside the package."""
    found = []
    for root, _, files in os.walk(PACKAGE, followlinks=True):
        found += [Path(root) / f for f in files if f.endswith(".py")]
    return sorted(found)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def top_level_imports(path: Path, modules: set[str]) -> set[str]:
    name = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def add(candidate: str) -> None:
        # `from .x import y` may name a submodule `x.y` or a name in `x`.
        while candidate and candidate not in modules:
            candidate = candidate.rpartition(".")[0]
        if candidate and candidate != name:
            found.add(candidate)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    target = resolve(name, path.name == "__init__.py", node.level, node.module)
                else:
                    target = node.module or ""
                for alias in node.names:
                    add(f"{target}.{alias.name}")
            elif isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = package_files()
    modules = {module_name(p) for p in paths}
    return {module_name(p): top_level_imports(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_no_module_level_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_library_never_imports_the_cli() -> None:
    graph = import_graph()
    bad = {
        (m, dep)
        for m, deps in graph.items()
        if not m.startswith("autotts_dsl.cli")
        for dep in deps
        if dep.startswith("autotts_dsl.cli")
    }
    assert not bad, sorted(bad)


def test_the_graph_sees_known_edges() -> None:
    """The parser of imports finds real edges (so the tests above can fail)."""
    graph = import_graph()
    assert {"autotts_dsl.compiler", "autotts_dsl.reference"} <= graph["autotts_dsl.interpreter"]
    assert "autotts_dsl.replay.protocol" in graph["autotts_dsl.reference"]
    assert "autotts_dsl.cli.errors" in graph["autotts_dsl.cli.common"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# ---------------------------------------------------------------------------
# The CLI wires the public API (issue 18): it parses arguments, renders and
# picks exit codes; everything it computes comes from `autotts_dsl.api`.

CLI_MAY_IMPORT: dict[str, str] = {
    "autotts_dsl.__version__": "`tts-dsl --version`",
    "autotts_dsl.io_atomic": "the atomic writer the CLI writes what it renders with "
    "(`--json` documents, `--trace` files); it imports nothing of the library",
    "autotts_dsl.diagnostics.did_you_mean": "the `did you mean` hint of an unknown command",
}
"""The only library modules (any name from them) or single names a CLI
module may import besides `autotts_dsl.api` and its submodules, each with
why."""


def all_imports(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every import in the file, at any depth: module
    level, inside functions, under TYPE_CHECKING. A `from M import n`
    yields `M.n` (a name or a submodule; the allowlist may name either)."""
    name = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = resolve(name, path.name == "__init__.py", node.level, node.module)
            else:
                target = node.module or ""
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def cli_violations(paths: list[Path]) -> list[str]:
    bad = []
    for path in paths:
        for line, target in all_imports(path):
            if not (target == "autotts_dsl" or target.startswith("autotts_dsl.")):
                continue  # the standard library and third-party packages
            if target == "autotts_dsl.api" or target.startswith(
                ("autotts_dsl.api.", "autotts_dsl.cli.")
            ):
                continue
            if any(target == ok or target.startswith(ok + ".") for ok in CLI_MAY_IMPORT):
                continue
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {target}")
    return bad


def cli_files() -> list[Path]:
    return [p for p in package_files() if module_name(p).startswith("autotts_dsl.cli")]


def test_the_cli_imports_only_the_public_api() -> None:
    bad = cli_violations(cli_files())
    assert not bad, "CLI modules import library internals:\n" + "\n".join(bad)


def test_the_cli_check_sees_function_level_imports(tmp_path: Path) -> None:
    """The check above can fail: an import inside a function, an import
    under TYPE_CHECKING and a plain `import` are all found."""
    cli = tmp_path / "autotts_dsl" / "cli"
    cli.mkdir(parents=True)
    fake = cli / "fake_cmd.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..api.programs import load\n"
        "from . import common\n"
        "if TYPE_CHECKING:\n"
        "    from ..checker import CheckReport\n"
        "def run():\n"
        "    from ..sweeps.grid import parse_betas\n"
        "    import autotts_dsl.replay.store\n"
        "    from autotts_dsl import __version__, programs\n",
        encoding="utf-8",
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "autotts_dsl"
    try:
        bad = cli_violations([fake])
    finally:
        PACKAGE = saved
    assert [b.split(": ")[1] for b in bad] == [
        "autotts_dsl.checker.CheckReport",
        "autotts_dsl.sweeps.grid.parse_betas",
        "autotts_dsl.replay.store",
        "autotts_dsl.programs",
    ]
