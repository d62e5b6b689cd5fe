"""Static tamper scan of a student's code, run by the grader (it never executes the code).

Three kinds of finding, each with a plain-words reason for the report:

* patching shared machinery: assigning to or deleting an attribute of an imported module,
  ``builtins`` or a class of numpy/torch (``np.allclose = ...``, ``torch.Tensor.__eq__ = ...``),
  ``setattr`` on a module, writing to ``sys.modules`` or ``__builtins__``;
* tampering with the interpreter or IPython: ``exec``/``eval``/``compile``/``__import__``,
  ``importlib``, ``ctypes``, ``sys.settrace``/``setprofile``, frame inspection, IPython's input or
  AST transformers and event hooks (anything on ``get_ipython()`` other than running a magic);
* calling the library instead of implementing it: a name an exercise forbids (for example
  ``torch.optim`` in a numpy optimizer step), or the grader's own ``autograder`` package.

The scan resolves import aliases (``from torch import optim as o; o.Adam``) but not dynamic
tricks; those are what the second bullet forbids outright.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

#: Calls that can hide any other finding.
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "breakpoint"}
#: Dotted names whose use is tampering wherever it appears.
TAMPER_NAMES = ("importlib", "ctypes", "sys.settrace", "sys.setprofile", "sys._getframe",
                "sys.modules", "sys.meta_path", "sys.path_hooks", "gc.get_referrers",
                "gc.get_objects", "inspect.currentframe", "inspect.stack", "threading.settrace",
                "threading.setprofile", "builtins", "autograder")
#: ``get_ipython()`` methods that only run a magic or a shell command (what ``%``/``!`` become).
SAFE_IPYTHON = {"run_line_magic", "run_cell_magic", "system", "getoutput"}


@dataclass(frozen=True)
class Finding:
    """One suspicious construct.

    Attributes:
        reason: What was found, in words (shown in the report and the student's feedback).
        name: The dotted name involved, when there is one (checked against exercises).
    """

    reason: str
    name: str = ""


def _transform(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) rewritten into Python, as IPython would."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - an untransformable cell just fails when it runs
        return source


class _Scanner(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases
        self.findings: list[Finding] = []
        self.names: set[str] = set()

    def dotted(self, node: ast.AST) -> str:
        """``a.b.c`` for a chain of attributes on a name, aliases resolved; '' otherwise."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "get_ipython":
            parts.append("get_ipython()")
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        else:
            return ""
        return ".".join(reversed(parts))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0])
            self.names.add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            self.aliases[alias.asname or alias.name] = full
            self.names.add(full)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if not name:
            self.generic_visit(node)
            return
        self.names.add(name)  # the whole chain only: ``torch.optim.Optimizer``, not ``torch``
        if name.startswith("get_ipython()."):
            method = name.split(".")[1]
            if method not in SAFE_IPYTHON:
                self.findings.append(Finding(f"uses IPython internals ({name})", name))
                return
        base = node
        while isinstance(base, ast.Attribute):
            base = base.value
        if not isinstance(base, ast.Name):
            self.visit(base)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(self.aliases.get(node.id, node.id))
        if node.id == "__builtins__":
            self.findings.append(Finding("uses __builtins__", "__builtins__"))

    def _target(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, verb)
            return
        if isinstance(target, ast.Subscript):
            base = self.dotted(target.value)
            if base in ("sys.modules", "__builtins__", "builtins.__dict__"):
                self.findings.append(Finding(f"{verb} {base}[...]", base))
            return
        if isinstance(target, ast.Attribute):
            owner = self.dotted(target.value)
            root = owner.split(".")[0]
            if owner and (root in _imported_roots(self.aliases) or root == "builtins"):
                self.findings.append(Finding(f"{verb} {owner}.{target.attr} (patching a library)",
                                             f"{owner}.{target.attr}"))

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target, "assigns to")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target, "modifies")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target, "deletes")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in DYNAMIC_CALLS:
            self.findings.append(Finding(f"calls {func.id}() (dynamic code)", func.id))
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            owner = self.dotted(node.args[0])
            if owner and owner.split(".")[0] in _imported_roots(self.aliases) | {"builtins"}:
                self.findings.append(Finding(f"calls {func.id}({owner}, ...) (patching a library)",
                                             owner))
        self.generic_visit(node)


def _imported_roots(aliases: dict[str, str]) -> set[str]:
    return {full.split(".")[0] for full in aliases.values()}


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def scan(source: str, aliases: dict[str, str] | None = None) -> tuple[list[Finding], set[str]]:
    """Scan one cell.

    Args:
        source: The cell's code (IPython syntax allowed).
        aliases: Names imported by earlier cells (updated in place with this cell's imports).

    Returns:
        The findings, and every dotted name the cell uses (aliases resolved), for the
        per-exercise check of :func:`forbidden_uses`.
    """
    aliases = {} if aliases is None else aliases
    try:
        tree = ast.parse(_transform(source))
    except (SyntaxError, ValueError):
        return [], set()
    scanner = _Scanner(aliases)
    scanner.visit(tree)
    findings = list(scanner.findings)
    for name in sorted(scanner.names):
        for prefix in TAMPER_NAMES:
            if _matches(name, prefix):
                findings.append(Finding(f"uses {name}", name))
                break
    return list(dict.fromkeys(findings)), scanner.names


def forbidden_uses(names: Iterable[str], exercise) -> list[Finding]:
    """Names an exercise forbids (``exercise.uses_forbidden``), as findings."""
    return [Finding(f"uses {name}, which does the exercise for you", name)
            for name in sorted(set(names)) if exercise.uses_forbidden(name)]
