"""The docs stay true: every repository path and project module they name in backticks exists.

Checked: README.md, docs/*.md and the module docstrings of the packages (their ``__init__.py`` and
every other module) and of train.py and test.py. A word in a backtick
span counts as a path when it has a ``/`` and starts with a top-level entry of the repository, or ends
in a source extension (a bare name then has to exist somewhere in the tree); it counts as a module when
it is dotted and starts with one of the project's packages (``assessment.velocity``, or a module attribute
such as ``models.hdl.evaluation.run_hdl_test``). Fenced code blocks, placeholders (``<name>``, ``*``)
and the folders runs create (checkpoints/, results/, datasets/, runs/) are left alone.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assessment", "data", "models", "options", "util", "scripts", "entry")
#: folders that runs, users and the environment create; git ignores them, docs may name them
RUNTIME = ("checkpoints", "results", "datasets", "runs", ".venv")
#: extensions of files that live in the repository (data and outputs such as .h5 or .csv are the user's)
SOURCE_EXTENSIONS = (".py", ".md", ".sh", ".sbatch", ".toml", ".txt")
DATA_EXTENSIONS = (".h5", ".pt", ".json", ".csv", ".html", ".png", ".gif", ".nii", ".gz", ".dcm", ".yaml", ".npz")
_SPAN = re.compile(r"(`+)(.+?)\1")
_PLACEHOLDER = re.compile(r"[<>*{}$|\[\]]|\.\.\.")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
TOP_LEVEL = frozenset(p.name for p in ROOT.iterdir() if not p.name.startswith(".") or p.name in RUNTIME)


def backtick_words(text: str) -> list[str]:
    """The words inside inline backtick spans of ``text``, outside fenced code blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [word for match in _SPAN.finditer(prose) for word in match.group(2).split()]


def _clean(word: str) -> str:
    word = word.strip("\"'(),;:").removeprefix("./")
    word = word.split("::")[0]  # a pytest node id names its file
    return re.sub(r":\d+$", "", word)  # file:line


@functools.cache
def _repo_files() -> tuple[str, ...]:
    files = (p.relative_to(ROOT) for p in ROOT.rglob("*") if p.is_file())
    return tuple(str(p) for p in files if not set(p.parts) & {".venv", ".git", "__pycache__"})


def path_exists(word: str) -> bool:
    rel = word.rstrip("/")
    if rel.split("/")[0] in RUNTIME or (ROOT / rel).exists():
        return True
    if "/" in rel and rel.split("/")[0] in TOP_LEVEL:
        return False
    return any(p == rel or p.endswith("/" + rel) for p in _repo_files())


def module_exists(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            return attribute_defined(importlib.import_module(module), parts[cut:])
    return False


def attribute_defined(module: ModuleType, attrs: list[str]) -> bool:
    """Whether ``module.a.b...`` exists and its first part is defined there: a function or class a plain
    module only imports has its home elsewhere, and the docs should point there (a package may re-export)."""
    if attrs and not hasattr(module, "__path__"):
        first = getattr(module, attrs[0], None)
        if (inspect.isfunction(first) or inspect.isclass(first)) and first.__module__ != module.__name__:
            return False
    target: object = module
    for attr in attrs:
        if not hasattr(target, attr):
            return False
        target = getattr(target, attr)
    return True


def broken_references(text: str) -> list[str]:
    """The paths and modules named in ``text``'s backticks that do not exist in the repository."""
    broken = []
    for raw in backtick_words(text):
        word = _clean(raw)
        if not word or _PLACEHOLDER.search(word) or word.startswith(("/", "~", "-", "http")):
            continue
        name = word.split("(")[0]  # a call: module.function(args)
        top = word.split("/")[0]
        if word.endswith(SOURCE_EXTENSIONS) or ("/" in word and top in TOP_LEVEL):
            ok = path_exists(word)
        elif word.endswith(DATA_EXTENSIONS) or "/" in word:
            continue  # a user's file, or a path relative to something else
        elif _DOTTED.match(name) and name.split(".")[0] in PACKAGES:
            ok = module_exists(name)
        else:
            continue
        if not ok:
            broken.append(word)
    return broken


def documents() -> dict[str, str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    docs = {str(p.relative_to(ROOT)): p.read_text() for p in pages}
    modules = [ROOT / "train.py", ROOT / "test.py", *(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))]
    for module in sorted(modules):
        docs[str(module.relative_to(ROOT))] = ast.get_docstring(ast.parse(module.read_text())) or ""
    return docs


def test_every_path_and_module_the_docs_name_exists() -> None:
    broken = {name: found for name, text in documents().items() if (found := broken_references(text))}
    assert broken == {}


def test_the_checker_catches_made_up_names() -> None:
    text = (
        "See `models/hdl/predictor.py`, `docs/PHANTOM.md`, `assessment.velocity`, "
        "`models.hdl.evaluation.run_hdl_test` and `checkpoints/<name>/` (run `bash scripts/quickstart.sh`);\n"
        "but `models/hdl/forecaster.py`, `docs/NOWHERE.md`, `util.speed`, `assessment.velocity.no_such_function`,\n"
        "`missing_helper.py`, `scripts/absent.sh` and `models.interp.inference.cyclic_targets` (imported there,\n"
        "defined in `data.cycle`) are made up.\n```\ncat `docs/IN_A_FENCE.md`\n```\n"
    )
    assert broken_references(text) == [
        "models/hdl/forecaster.py", "docs/NOWHERE.md", "util.speed", "assessment.velocity.no_such_function",
        "missing_helper.py", "scripts/absent.sh", "models.interp.inference.cyclic_targets",
    ]  # fmt: skip
    assert backtick_words("``data.phantom`` and `a b`") == ["data.phantom", "a", "b"]


def imports_inside_functions(source: str) -> set[str]:
    """The top-level names of the packages ``source`` imports inside a function or method."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in inner.names}
                elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                    found.add(inner.module.split(".")[0])
    return found


def test_the_imports_inside_functions_are_those_docs_architecture_lists() -> None:
    # docs/ARCHITECTURE.md ("Layers") names each of these (torch: torch.hub, torch.utils.tensorboard); a new
    # one belongs there too
    documented = {"pytorch_fid", "torch", "highdicom", "PIL", "pydicom", "matplotlib", "tqdm", "random", "numpy"}
    found = set()
    for path in (p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")):
        found |= imports_inside_functions(path.read_text())
    assert found == documented
    assert imports_inside_functions("def f():\n    from util import x\n    import numpy.linalg\n") == {"util", "numpy"}


#: a table of a package's modules: a line that mentions modules and ends in ":", then indented rows
_MODULE_TABLE = re.compile(r"^.*\bmodules?\b.*:\n\n?((?: {2,}\S.*\n?)+)", re.M | re.I)


def listed_but_absent(package: Path, docstring: str) -> list[str]:
    """Names in a package docstring's table of its modules (indented ``name  what it does`` rows after a
    line about its modules) that are neither a module nor a subpackage of ``package``."""
    names = [row.split()[0].removesuffix(".py") for t in _MODULE_TABLE.findall(docstring) for row in t.splitlines()]
    return [n for n in names if not (package / f"{n}.py").is_file() and not (package / n).is_dir()]


def test_a_package_lists_only_its_own_modules() -> None:
    for init in (p for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")):
        assert listed_but_absent(init.parent, ast.get_docstring(ast.parse(init.read_text())) or "") == [], init
    table = "One module per concept:\n\n    html          pages\n    forecast      scores\n    renderer      drives\n"
    assert listed_but_absent(ROOT / "assessment" / "report", table) == ["forecast", "renderer"]


#: the packages whose every module docs/ARCHITECTURE.md's tree names (or, where it names only the package, the
#: module table of the package's own docstring does)
TREE_PACKAGES = ("assessment", "data", "models", "util")
#: a file the tree names (lower case: ``scripts/X.py`` is a placeholder)
_TREE_FILE = re.compile(r"\b[a-z_][a-z0-9_]*\.py\b")


def architecture_tree() -> str:
    """The fenced tree under "## The tree" of docs/ARCHITECTURE.md."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    return re.search(r"^## The tree\n\n```\n(.*?)^```", text, flags=re.S | re.M).group(1)


def module_table(package: Path) -> set[str] | None:
    """The names in the module table of ``package``'s docstring; None when it has none."""
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    tables = _MODULE_TABLE.findall(docstring)
    if not tables:
        return None
    return {row.split()[0].removesuffix(".py").rstrip("/") for t in tables for row in t.splitlines()}


def modules_of(package: Path) -> set[str]:
    """The modules (``__init__`` and ``__main__`` aside) and subpackages of ``package``."""
    modules = {p.stem for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    return modules | {d.name for d in package.iterdir() if (d / "__init__.py").is_file()}


def unlisted_modules(root: Path, tree: str, packages: tuple[str, ...] = TREE_PACKAGES) -> list[str]:
    """Modules of ``packages`` (under ``root``) that are neither named in ``tree`` (``name.py``) nor in the
    module table of their package, and modules a package's table leaves out."""
    named = set(_TREE_FILE.findall(tree))
    missing = []
    for init in sorted(p for pkg in packages for p in (root / pkg).rglob("__init__.py")):
        table = module_table(init.parent)
        for name in sorted(modules_of(init.parent)):
            is_module = (init.parent / f"{name}.py").is_file()
            if (name not in table) if table is not None else (is_module and f"{name}.py" not in named):
                missing.append(str((init.parent / name).relative_to(root)))
    return missing


def test_every_module_is_in_the_architecture_tree_or_its_package_table() -> None:
    assert unlisted_modules(ROOT, architecture_tree()) == []


def test_the_architecture_tree_names_only_files_that_exist() -> None:
    files = {Path(p).name for p in _repo_files()}
    assert sorted(set(_TREE_FILE.findall(architecture_tree())) - files) == []


def test_a_module_left_out_of_the_tree_or_a_table_is_found(tmp_path: Path) -> None:
    tree = architecture_tree()
    assert unlisted_modules(ROOT, tree.replace("rows.py", "")) == ["models/rows"]
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package.\n\nOne module per concept:\n\n    listed    does a\n"""\n')
    for name in ("listed", "forgotten", "named_in_tree"):
        (package / f"{name}.py").write_text("")
    assert unlisted_modules(tmp_path, "named_in_tree.py", ("pkg",)) == ["pkg/forgotten", "pkg/named_in_tree"]
    (package / "__init__.py").write_text('"""A package without a table of its modules."""\n')
    assert unlisted_modules(tmp_path, "listed.py named_in_tree.py", ("pkg",)) == ["pkg/forgotten"]
