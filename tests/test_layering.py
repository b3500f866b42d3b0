"""The import graph of `src/docvl`: no cycles, and layers that only depend downwards.

Every `import` counts, at module level or inside a function (a lazy import is still a dependency), and so do
imports under `if TYPE_CHECKING:` (a type is an interface to keep stable too). Implicit imports of a parent
package's `__init__` do not count: only what a module names.

The layers, bottom to top:

* core: every module that is not a stage or an app (`config`, `runconfig`, `page`, `pdf`, `latex`, `io`,
  `errors`, `system`, `prompts`, `console`, `scoring/`, `models/`, `results`, `judge`, ...). Core never imports
  a stage or an app.
* stages, in the order `data` < `infer` < `train` < `eval`: a stage imports core, and a lower stage only
  through that stage's public modules (`PUBLIC`); never a higher stage, never another stage's internals.
  (`train` may use `infer`'s generation routine; `eval` runs `infer` and `train`'s loss evaluation.)
* apps: `cli`, `quickstart`, `envreport` (`docvl env`), `__main__`, which may import anything; nothing imports
  an app.

The test lists every violation at once, one line each, so a refactoring can see what is left.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "docvl"
STAGES = ("data", "infer", "train", "eval")  # lowest first
APPS = ("cli", "quickstart", "envreport", "__main__")
# A stage's public modules: what higher stages may import (add a module here when it is meant for them).
PUBLIC = {
    "data": {"docvl.data", "docvl.data.pageset", "docvl.data.dataset", "docvl.data.pipeline", "docvl.data.page_tests"},
    # The per-page conversion core others reuse: request/reply types and requests, the one generation routine,
    # engines from the factory, the converter and its inputs. HTTP, vLLM supervision and rendering stay inside.
    "infer": {
        "docvl.infer",
        "docvl.infer.server_config",
        "docvl.infer.types",
        "docvl.infer.request",
        "docvl.infer.local",
        "docvl.infer.factory",
        "docvl.infer.convert",
        "docvl.infer.inputs",
        "docvl.infer.vllm_cmd",  # serve's rules for vLLM's arguments, which GRPO's vLLM generation follows too
    },
    "train": {"docvl.train", "docvl.train.loss_eval", "docvl.train.checkpoint"},
    "eval": {"docvl.eval"},
}


def module_names() -> dict[str, Path]:
    """`docvl.x.y` -> its file, for every module and package in src/docvl."""
    names = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the docvl modules it imports (a `from package import name` counts name's module if it is one)."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules and target.startswith(ROOT):
                    target = target.rpartition(".")[0]
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def layer(module: str) -> str:
    """`core`, a stage name, or `app`."""
    head = module.split(".")[1] if "." in module else ""
    if head in APPS:
        return "app"
    return head if head in STAGES else "core"


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for source, targets in sorted(graph.items()):
        here = layer(source)
        for target in sorted(targets):
            there = layer(target)
            if there == "app" and here != "app":
                problems.append(f"{source} -> {target}: only apps import apps")
            elif here == "core" and there != "core":
                problems.append(f"{source} -> {target}: core imports the stage '{there}'")
            elif here in STAGES and there in STAGES and here != there:
                if STAGES.index(there) > STAGES.index(here):
                    problems.append(f"{source} -> {target}: stage '{here}' imports the higher stage '{there}'")
                elif target not in PUBLIC[there]:
                    problems.append(f"{source} -> {target}: an internal module of stage '{there}'")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one cycle through them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, set(component)) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    return sorted(component)


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "docvl.config" in graph["docvl.cli"]  # cli imports config only inside its commands
    assert "docvl.runconfig" in graph["docvl.cli"]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_layers_only_depend_downwards() -> None:
    problems = layering_violations(import_graph())
    assert not problems, f"{len(problems)} layering violations:\n" + "\n".join(problems)
