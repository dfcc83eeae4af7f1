"""The documentation stays true to the tree and to the registry.

* Every relative link and every repo path or module named in README.md and docs/*.md exists.
* No product file points at notes outside the repository (THEORY.md, DESIGN.md, NOTES.md,
  ``../shared``).
* README's Layout block names exactly the tree's product modules.
* docs/theory.md lists, under each claim heading, exactly the registered claims of that heading.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections import defaultdict
from pathlib import Path

import pytest

from properties.claim import THEORY_REFS
from properties.registry import all_claims

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
THEORY = ROOT / "docs" / "theory.md"

#: First components a repo path may start with (the repository's top-level entries).
TOP_LEVEL = ("core", "properties", "verify", "tools", "tests", "docs", ".ci", "README.md",
             "pyproject.toml", "tox.ini")
#: Packages whose dotted names in backticks must resolve.
PACKAGES = ("core", "properties", "verify", "tools")

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_SPAN = re.compile(r"`([^`\n]+)`")
_PATH_LIKE = re.compile(r"(?:/|\.(?:py|md|json|toml|ini)$)")
#: Wildcards and placeholders: globs, ``<...>``, ``…``, ``{...}``, upper-case names like ``DIR``.
_PLACEHOLDER = re.compile(r"[*?<>{}…]|(?:^|/)[A-Z][A-Z_]+(?:/|$|\.)")
#: Plain-text (unbackticked) paths to Python files and docs.
_PLAIN_PATH = re.compile(
    r"(?<![\w/.`-])((?:core|properties|verify|tools|tests|docs)/[\w/.-]*\.(?:py|md))\b")
_DOTTED = re.compile(r"(?<![\w./-])((?:core|properties|verify|tools)(?:\.[A-Za-z_]\w*)+)")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _repo_path_exists(token: str) -> bool:
    """``token`` (repo-relative, maybe ``file.py::test_name``) names something in the tree."""
    file_part, _, test_name = token.partition("::")
    target = ROOT / file_part.rstrip("/")
    if not target.exists():
        return False
    if test_name:
        return re.search(rf"^def {re.escape(test_name)}\(", target.read_text(), re.M) is not None
    return True


def _repo_path_tokens(text: str) -> set[str]:
    """Backticked repo paths, plus plain-text paths of ``.py``/``.md`` files."""
    found = set()
    for span in _SPAN.findall(text):
        token = span.strip()
        if " " in token or not _PATH_LIKE.search(token.partition("::")[0]):
            continue
        if token.split("/")[0] not in TOP_LEVEL or _PLACEHOLDER.search(token):
            continue
        found.add(token)
    found.update(_PLAIN_PATH.findall(text))
    return found


def _dotted_names(text: str) -> set[str]:
    """Dotted names in backticks that start with one of :data:`PACKAGES`."""
    return {name for span in _SPAN.findall(text) for name in _DOTTED.findall(span)}


def _resolves(dotted: str) -> bool:
    """The longest importable module prefix of ``dotted``, then attributes for the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        obj: object = importlib.import_module(module_name)
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_relative_links_exist(doc: Path) -> None:
    missing = []
    for target in _LINK.findall(doc.read_text()):
        if re.match(r"(?:https?|mailto):", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            missing.append(target)
    assert not missing, f"{_rel(doc)} links to missing paths: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_repo_paths_named_exist(doc: Path) -> None:
    missing = sorted(t for t in _repo_path_tokens(doc.read_text()) if not _repo_path_exists(t))
    assert not missing, f"{_rel(doc)} names paths that are not in the repo: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_dotted_names_resolve(doc: Path) -> None:
    """Every backticked ``core.…``/``properties.…``/``verify.…``/``tools.…`` name imports.

    Only dotted names are checked; bare function names in backticks are too ambiguous to
    resolve (a ``plan_kernel(...)`` may be prose about any module).
    """
    unresolved = sorted(n for n in _dotted_names(doc.read_text()) if not _resolves(n))
    assert not unresolved, f"{_rel(doc)} names modules/attributes that do not exist: {unresolved}"


# --- nothing points outside the repository -------------------------------------------------

_OUTSIDE = re.compile(r"THEORY\.md|DESIGN\.md|NOTES\.md|\.\./shared|(?<![\w-])shared/|"
                      r"(?i:shared notes)")
_SCANNED = ("README.md", "docs", "core", "properties", "verify", "tools", "pyproject.toml",
            "tox.ini", ".ci")


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in _SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".png")]
    return files


def test_no_file_refers_to_notes_outside_the_repo() -> None:
    hits = []
    for path in _scanned_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                hits.append(f"{_rel(path)}:{number}: {line.strip()[:100]}")
    assert not hits, "references to notes users do not have:\n" + "\n".join(hits)


# --- README's Layout block against the tree ------------------------------------------------

_PRODUCT = ("core", "properties", "verify")


def _layout_lines() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("## Layout")
    block: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("    ") and line.strip():
            block.append(line[4:])
        elif block and line.strip():
            break                         # the block has ended
    assert block, "README.md's Layout section has no indented block"
    return block


def layout_entries() -> set[str]:
    """Repo paths the Layout block names: ``core/kernels/plan`` for ``plan`` under ``kernels/``.

    Each line is ``indent names  description``: comma-separated names, then two or more
    spaces. A name ending in ``/`` is a folder and the more deeply indented lines below it
    are inside it; other names are modules (without ``.py``) or files (with a suffix).
    """
    entries: set[str] = set()
    stack: list[tuple[int, str]] = []      # (indent, folder path)
    for line in _layout_lines():
        indent = len(line) - len(line.lstrip())
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        for name in (n.strip() for n in names.split(",")):
            path = f"{parent}{name}"
            entries.add(path.rstrip("/"))
            if name.endswith("/"):
                stack.append((indent, path))
    return entries


def _exists(entry: str) -> bool:
    """A folder, a file with its suffix, or a module written without ``.py``."""
    path = ROOT / entry
    return path.is_dir() or path.is_file() or (ROOT / f"{entry}.py").is_file()


def product_modules() -> set[str]:
    """Every module and subpackage of core/properties/verify, and every docs/*.md."""
    names = set()
    for package in _PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "__pycache__" in path.parts or path.name in ("__init__.py", "__main__.py"):
                continue
            names.add(_rel(path)[:-3])
        for init in (ROOT / package).rglob("__init__.py"):
            if init.parent != ROOT / package:
                names.add(_rel(init.parent))
    names.update(_rel(p) for p in (ROOT / "docs").glob("*.md"))
    return names


def test_layout_names_only_what_exists() -> None:
    missing = sorted(e for e in layout_entries() if not _exists(e))
    assert not missing, f"README.md's Layout names entries not in the tree: {missing}"


def test_layout_names_every_product_module() -> None:
    unnamed = sorted(product_modules() - layout_entries())
    assert not unnamed, f"README.md's Layout does not name: {unnamed}"


# --- docs/theory.md against the registry ----------------------------------------------------

_HEADING = re.compile(r"^### (\S+)", re.M)


def theory_claim_lists() -> dict[str, set[str]]:
    """For each ``### REF …`` heading of docs/theory.md, the ids on its ``Claims:`` line."""
    text = THEORY.read_text()
    found: dict[str, set[str]] = {}
    marks = list(_HEADING.finditer(text))
    for mark, nxt in zip(marks, [*marks[1:], None], strict=True):
        ref = mark.group(1)
        body = text[mark.end(): nxt.start() if nxt else len(text)]
        body = body.split("\n## ", 1)[0]
        line = next((ln for ln in body.splitlines() if ln.startswith("Claims:")), None)
        found[ref] = set(re.findall(r"`([a-z][a-z0-9_]*)`", line)) if line else set()
    return found


def test_every_theory_ref_has_a_heading() -> None:
    missing = [ref for ref in THEORY_REFS if ref not in theory_claim_lists()]
    assert not missing, f"docs/theory.md has no '### REF —' heading for {missing}"


@pytest.mark.parametrize("ref", THEORY_REFS)
def test_theory_lists_exactly_the_registered_claims(ref: str) -> None:
    registered: dict[str, set[str]] = defaultdict(set)
    for claim in all_claims():
        registered[claim.theory_ref].add(claim.id)
    listed = theory_claim_lists().get(ref, set())
    assert listed == registered[ref], (
        f"docs/theory.md ### {ref}: listed but not registered {sorted(listed - registered[ref])}"
        f"; registered but not listed {sorted(registered[ref] - listed)}")


def test_theory_keeps_the_numbered_sections_code_cites() -> None:
    text = THEORY.read_text()
    for heading in ("## 1. The model", "## 2. Statistical claims", "## 3. Computational claims",
                    "## 4. Evidence levels",
                    "## 5. Where our formalisation may differ from the paper",
                    "## 6. Numerical facts the checks rely on"):
        assert f"\n{heading}\n" in text, heading
    for paragraph in ("**Cancellation.**", "**Gradients**"):
        assert f"\n{paragraph}" in text, paragraph


def test_design_keeps_the_headings_code_cites() -> None:
    text = (ROOT / "docs" / "design.md").read_text()
    for heading in ("## Floors", "## One derivation per quantity", "## The Claim record",
                    "### Oracle discipline", "### Tolerances are data", "### Strategies",
                    "### Run budgets by profile", "### One error family",
                    "### One reference implementation"):
        assert f"\n{heading}\n" in text, heading
    assert "large arrays built from a drawn seed" in text.replace("\n", " ").lower() or \
        "large arrays are built from a drawn seed" in text.replace("\n", " ").lower()
