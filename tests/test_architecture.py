"""The package's structure: no import cycle (function-level imports included), and a core that
never names the OMG fork, which plugs in through the registries."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pymarl_explained

PACKAGE_DIR = Path(pymarl_explained.__file__).resolve().parent
ROOT = "pymarl_explained"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every package module that ``path`` imports, at any depth of its code (function-level too).

    ``from a.b import c`` counts ``a.b.c`` when that is a module, else ``a.b``. Importing a module
    also runs its parent packages' ``__init__``: those count too, except the package root and the
    importer's own parents (Python has already started them when the importer runs).
    """
    name = module_name(path)
    is_package = path.name == "__init__.py"
    own_parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = name if is_package else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        for target in targets:
            if not target.startswith(ROOT):
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in modules and candidate not in own_parents and candidate != name:
                    found.add(candidate)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_function_level_and_parent_package_imports_are_edges():
    graph = import_graph()
    # run.py imports the controllers package, whose __init__ runs on any import below it
    assert "pymarl_explained.controllers" in graph["pymarl_explained.run"]
    # a function-level import: plug-ins are loaded inside Registry.__missing__
    assert "pymarl_explained.plugins" in graph["pymarl_explained.utils.registry"]
    # importing a module deep in a package counts its parent packages, not the importer's own parents
    assert "pymarl_explained.omg.am" in graph["pymarl_explained.omg.controller"]
    assert "pymarl_explained.omg" not in graph["pymarl_explained.omg.controller"]


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


#: The PyMARL core: what a student reads first. The OMG reconstruction lives in pymarl_explained/omg.
CORE = ["run.py", "main.py", "plugins.py", "utils", "controllers", "learners", "components", "modules",
        "runners", "config/default.yaml", "config/algs", "config/envs"]
FORK_WORDS = re.compile(r"omg|multi_alg|agent_shift|agent_idx|q_learner_4am|multi_module|am_learner|teammate",
                        re.IGNORECASE)


def core_files() -> list[Path]:
    files = []
    for entry in CORE:
        path = PACKAGE_DIR / entry
        files += sorted(p for p in path.rglob("*") if p.suffix in (".py", ".yaml")) if path.is_dir() else [path]
    return files


def test_the_core_never_names_the_fork():
    assert len(core_files()) > 30
    offenders = [f"{p.relative_to(PACKAGE_DIR)}:{i}: {line.strip()}" for p in core_files()
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if FORK_WORDS.search(line)]
    assert offenders == []


def test_the_core_imports_nothing_of_the_fork():
    graph = import_graph()
    core = {module_name(p) for p in core_files() if p.suffix == ".py"}
    assert {m: sorted(d) for m in core if (d := {x for x in graph[m] if x.startswith(f"{ROOT}.omg")})} == {}


def test_the_fork_plugs_in_through_the_entry_point_and_the_registries():
    from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
    from pymarl_explained.learners import REGISTRY as le_REGISTRY
    from pymarl_explained.plugins import plugin_modules
    from pymarl_explained.run import LOOP_REGISTRY

    assert plugin_modules() == ["pymarl_explained.omg"]
    # a registry asked for a fork name loads the plug-ins first
    assert mac_REGISTRY["multi_module_mac"].__module__ == "pymarl_explained.omg.controller"
    assert le_REGISTRY["omg_learner"].__module__ == "pymarl_explained.omg.learners.omg_learner"
    assert type(LOOP_REGISTRY["omg"]).__module__ == "pymarl_explained.omg.loop"
