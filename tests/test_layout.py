"""Package layout: one-way stage imports, no cycles, cheap imports, one MOABB boundary, a working wheel."""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import neurodecode

PACKAGE = Path(neurodecode.__file__).parent
#: Data flows one way: a module may import its own stage, the base modules, and earlier stages only.
STAGES = ["datasets", "preprocessing", "windows", "models", "evaluation", "benchmark", "online", "cli"]
BASE = {"config", "environment", "errors", "utils", "yamlio", "moabb_api", "private_api"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("neurodecode", *parts))
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    """Internal modules imported by ``name``: every import, or only those run at import time."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # also imports under top-level if/try blocks, never inside functions
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not any(isinstance(stmt, t) for t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("neurodecode"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("neurodecode")}
    return {m for m in out if m in MODULES and m != name}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package facade: lazy re-exports only
    head = parts[1]
    if head in BASE:
        return -1
    return STAGES.index(head)


def test_stages_import_one_way():
    wrong = []
    for name, path in MODULES.items():
        mine = _stage(name)
        if mine is None:
            continue
        for target in _imports(name, path, top_level_only=False):
            theirs = _stage(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{name} -> {target}")
    assert wrong == [], "a stage imports a later one: " + ", ".join(wrong)
    assert all(_stage(m) is not None for m in MODULES if m != "neurodecode")  # every module has a stage


def test_no_import_cycles():
    graph = {name: _imports(name, path, top_level_only=False) for name, path in MODULES.items()}
    cycles = []

    def visit(node, trail, on_trail, done):
        on_trail.add(node)
        trail.append(node)
        for nxt in sorted(graph[node]):
            if nxt in on_trail:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, trail, on_trail, done)
        trail.pop()
        on_trail.discard(node)
        done.add(node)

    done: set = set()
    for node in sorted(graph):
        if node not in done and node != "neurodecode":
            visit(node, [], set(), done)
    assert cycles == []


def test_base_helpers_module_is_a_leaf():
    assert _imports("neurodecode.utils", MODULES["neurodecode.utils"], top_level_only=False) == set()
    assert _imports("neurodecode.errors", MODULES["neurodecode.errors"], top_level_only=False) == {"neurodecode.utils"}


#: A concept written once: a pattern that may appear in one module only (where it is defined).
WRITTEN_ONCE = {
    "split names": (r"[\"']within-session[\"']\s*[:,][^\n]*[\"']cross-session", "neurodecode.moabb_api"),
    "chance level": (r"roc_auc[\"']\s*else\s*1", "neurodecode.evaluation.metrics"),
    "unit table": (r"[\"']microvolts[\"']", "neurodecode.utils"),
    "window cutting": (r"sliding_window_view", "neurodecode.windows.grid"),
}


@pytest.mark.parametrize("concept", sorted(WRITTEN_ONCE))
def test_each_concept_is_written_in_one_module(concept):
    pattern, home = WRITTEN_ONCE[concept]
    found = sorted(name for name, path in MODULES.items() if re.search(pattern, path.read_text()))
    assert found == [home]


def test_only_the_boundary_module_imports_moabb():
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            mods = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(m == "moabb" or m.startswith("moabb.") for m in mods) and name != "neurodecode.moabb_api":
                offenders.append(name)
    assert offenders == []


def test_every_moabb_name_we_use_still_exists():
    from neurodecode import moabb_api

    for name, target in {**moabb_api.EXPORTS, **{k: k for k in moabb_api.SUBCLASS_HOOKS}}.items():
        module, _, attr = target.partition(":")
        obj = importlib.import_module(module)
        for part in filter(None, attr.split(".")):
            assert hasattr(obj, part), f"MOABB no longer has {target} (used as neurodecode.moabb_api.{name})"
            obj = getattr(obj, part)
    # the hook is still the abstract method MOABB asks dataset subclasses to implement
    base = moabb_api.BaseDataset
    assert "_get_single_subject_data" in base.__abstractmethods__


def test_every_private_name_we_use_still_exists_and_only_the_boundary_uses_it():
    """Each private name of another library in private_api.PRIVATE resolves (a test that fails when
    one disappears upstream), and no other module reaches for those names itself."""
    from neurodecode import private_api

    for target in private_api.PRIVATE:
        module, _, attr = target.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            assert hasattr(obj, part), f"{module} no longer has {attr} (listed in neurodecode.private_api.PRIVATE)"
            obj = getattr(obj, part)
    for target, attributes in private_api.PRIVATE_ATTRIBUTES.items():
        module, _, attr = target.partition(":")
        source = inspect.getsource(getattr(importlib.import_module(module), attr))
        missing = [a for a in attributes if f"self.{a} =" not in source]
        assert missing == [], f"{target} no longer sets {missing} (neurodecode.private_api.PRIVATE_ATTRIBUTES)"
    assert issubclass(private_api.lsl_lost_error(), Exception)
    names = {t.rpartition(".")[2].rpartition(":")[2] for t in private_api.PRIVATE}  # _unlock, LostError...
    names |= {a for attributes in private_api.PRIVATE_ATTRIBUTES.values() for a in attributes}
    assert {"_unlock", "LostError", "_stream", "_version", "_outlet"} <= names
    uses = re.compile("|".join(rf"\.{n}\b" if n.startswith("_") else rf"\b{n}\b" for n in sorted(names)))
    offenders = [(name, uses.findall(path.read_text())) for name, path in MODULES.items()
                 if name != "neurodecode.private_api" and uses.search(path.read_text())]
    assert offenders == []


def _python(code: str, cwd: Path | None = None, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                         env={**os.environ, **(env or {})}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_models_and_evaluation_import_without_torch_or_moabb():
    code = ("import sys, neurodecode.models, neurodecode.evaluation, neurodecode.online, neurodecode.cli\n"
            "print(sorted(m for m in ('torch', 'moabb', 'mne', 'braindecode', 'sklearn', 'mne_lsl')"
            " if m in sys.modules))")
    assert _python(code) == "[]"


def test_keyword_only_constructors():
    import inspect

    from neurodecode.datasets import SyntheticMI
    from neurodecode.datasets.local import LocalDataset
    from neurodecode.evaluation import PseudoOnlineEvaluation
    from neurodecode.models import DeepClassifier

    for cls, positional in [(PseudoOnlineEvaluation, 2), (DeepClassifier, 1), (SyntheticMI, 0),
                            (LocalDataset, 0)]:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        named = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        assert len(named) == positional, (cls.__name__, [p.name for p in named])


def test_verbose_is_keyword_only():
    # data_path overrides MOABB's BaseDataset.data_path, whose verbose is positional: callers use MOABB's order.
    from moabb.datasets.base import BaseDataset

    moabb_order = inspect.signature(BaseDataset.data_path).parameters["verbose"].kind
    assert moabb_order is inspect.Parameter.POSITIONAL_OR_KEYWORD
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "data_path":
                if "verbose" in [a.arg for a in node.args.posonlyargs + node.args.args]:
                    wrong.append(f"{name}:{node.name}")
    assert wrong == []


@pytest.mark.slow
def test_wheel_installs_and_finds_its_definitions(tmp_path):
    """Build the wheel, install it apart from the source tree, and read the shipped definitions."""
    repo = PACKAGE.parent
    if not (repo / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(repo)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = list(wheels.glob("neurodecode-*.whl"))
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                              str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    code = ("import neurodecode, pathlib\n"
            "from neurodecode.benchmark.quickstart import quickstart_config, QUICKSTART\n"
            "from neurodecode.datasets import get_dataset\n"
            "from neurodecode.models import get_pipeline, classical_pipelines\n"
            "from neurodecode.preprocessing import Recipe\n"
            "print(pathlib.Path(neurodecode.__file__).parent.parent)\n"
            "print(quickstart_config()['datasets'][0]['name'], QUICKSTART.is_file())\n"
            "print(get_dataset('MuseVisualP300').code)\n"
            "print(len(classical_pipelines()), type(get_pipeline('TS+LR')).__name__)\n"
            "print(Recipe.from_yaml('mi_clean').name)\n")
    # run from an empty folder, with the wheel's copy first on the path (not the editable source)
    lines = _python(code, cwd=tmp_path, env={"PYTHONPATH": str(target)}).splitlines()
    assert lines[0] == str(target)
    assert lines[1:] == ["SyntheticMI True", "MuseVisualP300", "16 Pipeline", "mi-clean"]
