"""The code's shape, read statically (ast, nothing imported): no import cycles among our modules, and the Lambda
code never imports the model stack or the local runtime.

Every import counts wherever it sits (module level, inside a function, under `if TYPE_CHECKING:`): an import moved
into a function still ties the two modules together, it only hides the cycle until that function runs.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each import root lives: the Lambda code is importable from functions/ (its CodeUri), the rest from the root.
SOURCE_ROOTS = {"functions": ROOT / "functions", "local_runtime": ROOT, "training": ROOT, "glue_jobs": ROOT}
SCANNED = {
    "functions": ROOT / "functions",
    "local_runtime": ROOT / "local_runtime",
    "training": ROOT / "training",
    "glue_jobs": ROOT / "glue_jobs",
}
# The Lambda package has to stay small and start fast; none of these belong in it.
FORBIDDEN_IN_FUNCTIONS = ("local_runtime", "training", "torch", "transformers", "onnxruntime")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted name as written, resolved if relative
    path: Path
    line: int


def module_name(path: Path, source_root: Path) -> str:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(path: Path, source_root: Path) -> list[Import]:
    """Every import statement in one file, with `from x import y` read as both `x` and `x.y` (y may be a module)."""
    importer = module_name(path, source_root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(importer, alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append(Import(importer, base, path, node.lineno))
            found += [Import(importer, f"{base}.{alias.name}", path, node.lineno) for alias in node.names]
    return found


def scan(folders: dict[str, Path], source_roots: dict[str, Path]) -> tuple[set[str], list[Import]]:
    """All modules under the folders and all their imports."""
    modules: set[str] = set()
    imports: list[Import] = []
    for key, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            modules.add(module_name(path, source_roots[key]))
            imports += imports_in(path, source_roots[key])
    return modules, imports


def import_graph(modules: set[str], imports: list[Import]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a name that is not one of our modules is someone else's)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for found in imports:
        if found.imported in modules and found.imported != found.importer:
            graph[found.importer].add(found.imported)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as `a -> b -> ... -> a`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def forbidden_imports(imports: list[Import], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        {
            f"{found.path.relative_to(ROOT) if found.path.is_relative_to(ROOT) else found.path}:{found.line} "
            f"imports {found.imported}"
            for found in imports
            if found.imported.split(".")[0] in forbidden
        }
    )


def describe(cycle: list[str]) -> str:
    return " -> ".join(cycle)


# ---------------------------------------------------------------------------------------------------------------
# The checks on this repository


def test_no_import_cycles_among_our_modules() -> None:
    modules, imports = scan(SCANNED, SOURCE_ROOTS)
    assert {"ondemand.lifecycle", "local_runtime.runtime", "training.train", "glue_jobs.curate_reviews"} <= modules
    cycles = import_cycles(import_graph(modules, imports))
    assert not cycles, "import cycles (break each by moving the shared part into a module both import):\n" + "\n".join(
        describe(cycle) for cycle in cycles
    )


def test_lambda_code_never_imports_the_model_stack_or_the_local_runtime() -> None:
    _, imports = scan({"functions": SCANNED["functions"]}, SOURCE_ROOTS)
    assert imports, "found no imports under functions/: the scan is looking in the wrong place"
    offenders = forbidden_imports(imports, FORBIDDEN_IN_FUNCTIONS)
    assert not offenders, "functions/ must stay deployable as a Lambda package:\n" + "\n".join(offenders)


def test_every_package_imports_by_name_from_any_directory(tmp_path: Path) -> None:
    """`make venv` installs the project, so the model server, the fork server and `streamlit run` find our code from
    any working directory with no PYTHONPATH; this breaks when the install is missing or maps a package wrong."""
    probe = (
        "import importlib, json, os\n"
        "names = ['ondemand', 'ondemand.handlers.api', 'local_runtime', 'training', 'glue_jobs',\n"
        "         'ondemand_dashboard']\n"
        "where = {}\n"
        "for name in names:\n"
        "    module = importlib.import_module(name)\n"
        "    places = list(getattr(module, '__path__', [])) or [module.__file__]\n"
        "    where[name] = [p for p in places if os.path.exists(p)]  # not the editable finder's path-hook marker\n"
        "print(json.dumps(where))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (
        f"not importable outside the checkout (is the project installed? make venv):\n{done.stderr[-2000:]}"
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "ondemand": [str(ROOT / "functions" / "ondemand")],
        "ondemand.handlers.api": [str(ROOT / "functions" / "ondemand" / "handlers" / "api.py")],
        "local_runtime": [str(ROOT / "local_runtime")],
        "training": [str(ROOT / "training")],
        "glue_jobs": [str(ROOT / "glue_jobs")],
        "ondemand_dashboard": [str(ROOT / "frontend" / "dashboard" / "ondemand_dashboard")],
    }


# The project is installed, so code imports by package name: nothing edits the import path. (Where a test stands in
# for a runtime that puts a folder first, it does so as the runtime does: a working directory, PYTHONPATH.)
# Written in two halves so that this file does not match its own search.
SYS_PATH = "sys." + "path"
# Tests build their own settings and adapters: nothing global to reset.
RESET_CALLS = ("cache_clear" + "()", "install" + "(")


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert listed, "git lists no Python files: the check would pass on nothing"
    return [ROOT / name for name in listed]


def lines_containing(paths: list[Path], needles: tuple[str, ...], root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in paths
        if path.exists()  # a file deleted in the work tree but not yet in git
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if any(needle in line for needle in needles)
    ]


def test_no_import_path_edits() -> None:
    offenders = lines_containing(tracked_python_files(), (SYS_PATH,), ROOT)
    assert not offenders, f"import by package name (the project is installed) instead of editing {SYS_PATH}:\n" + (
        "\n".join(offenders)
    )


def test_no_test_resets_module_globals() -> None:
    paths = [path for path in tracked_python_files() if path.relative_to(ROOT).parts[0] == "tests"]
    offenders = lines_containing(paths, RESET_CALLS, ROOT)
    assert not offenders, "tests pass their own settings and adapters to bootstrap:\n" + "\n".join(offenders)


def test_every_test_folder_is_a_package() -> None:
    """Helpers import as `tests.unit.<folder>.<module>`, so two folders may hold files of the same name."""
    folders = {path.parent for path in tracked_python_files() if path.name.startswith("test_")}
    assert folders, "git lists no test files"
    missing = {
        str(folder.relative_to(ROOT))
        for found in folders
        for folder in [found, *found.parents]
        if folder.is_relative_to(ROOT / "tests") and not (folder / "__init__.py").exists()
    }
    assert not missing, "add an __init__.py to:\n" + "\n".join(sorted(missing))


# ---------------------------------------------------------------------------------------------------------------
# The checker itself, on small trees planted here: it must see what it is there to see


def plant(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    return {"pkg": tmp_path / "pkg"}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import pkg.a\n"},
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="module level",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg.b import helper\n",
                "pkg/b.py": "def helper():\n    from . import a\n    return a\n",
            },
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="inside a function, relative",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg import b\n",
                "pkg/b.py": "from pkg import c\n",
                "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
            },
            [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]],
            id="three modules, type-checking import",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "from .x import X\n",
                "pkg/sub/x.py": "from ..y import Y\nX = 1\n",
                "pkg/y.py": "from pkg.sub import X\nY = 2\n",
            },
            [["pkg.sub", "pkg.sub.x", "pkg.y", "pkg.sub"]],
            id="through a package's __init__",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "import json\nfrom pkg import b\n",
                "pkg/b.py": "import os\nimport requests\n",
            },
            [],
            id="no cycle",
        ),
    ],
)
def test_the_cycle_check_finds_planted_cycles(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    folders = plant(tmp_path, files)
    assert import_cycles(import_graph(*scan(folders, {"pkg": tmp_path}))) == expected


def test_the_lambda_check_finds_a_planted_heavy_import(tmp_path: Path) -> None:
    folders = plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/light.py": "import json\nfrom pkg import heavy\n",
            "pkg/heavy.py": (
                "def load():\n    from transformers import AutoModel\n    import torch.nn\n    return AutoModel\n"
            ),
        },
    )
    _, imports = scan(folders, {"pkg": tmp_path})
    found = forbidden_imports(imports, FORBIDDEN_IN_FUNCTIONS)
    assert [line.split(" imports ")[1] for line in found] == ["transformers", "transformers.AutoModel", "torch.nn"]
    assert all(line.startswith(str(tmp_path / "pkg" / "heavy.py")) for line in found)


def test_the_path_check_finds_a_planted_edit(tmp_path: Path) -> None:
    plant(
        tmp_path,
        {"pkg/clean.py": "import sys\nprint(sys.argv)\n", "pkg/edits.py": f"import sys\n{SYS_PATH}[:0] = ['x']\n"},
    )
    found = lines_containing(sorted((tmp_path / "pkg").glob("*.py")), (SYS_PATH,), tmp_path)
    assert found == [f"pkg/edits.py:2: {SYS_PATH}[:0] = ['x']"]
