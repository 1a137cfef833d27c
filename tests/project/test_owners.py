"""Each constant has one owner (issue 35, item 7): the package's code restates none of them.

Read from the code's syntax (``ast``; docstrings, comments, notebooks' outputs and prose are not code):

- the batch size: an integer written as the value of ``batch_size`` (a default, a keyword, a dict entry);
  its owner is :data:`htd_tutorial.choices.DEFAULT_BATCH_SIZE`;
- the teacher's dimension: an integer written as the value of ``teacher_dim``, or of ``dim`` where the
  integer is the teacher's 200; owner :data:`htd_tutorial.choices.TEACHER_DIM`;
- the headline metric's name: a string of code that is ``"Recall@50"`` (prose around it is left alone); owner
  :data:`htd_tutorial.choices.HEADLINE` (also :data:`htd_tutorial.evaluation.HEADLINE`; in ``choices`` so
  that the modules which must not load torch read it too);
- the methods' labels: a dict that writes out the names of three or more methods (``"htd": "HTD"``);
  owner :data:`htd_tutorial.choices.METHOD_NAMES` (the pictures' legend,
  :data:`htd_tutorial.plots.style.METHOD_LABELS`, is made from it);
- the repository root: ``Path(__file__)`` climbing to a parent; owner :mod:`htd_tutorial.stored`;
- a yes/no parser: a collection of strings holding ``"true"`` or ``"yes"``; owner :mod:`htd_tutorial._env`.
"""
from __future__ import annotations

import ast
from pathlib import Path
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "htd_tutorial"
METHODS = {"student", "fitnet", "de", "ftd", "htd"}
#: Each kind of constant and the one file allowed to write it.
OWNERS = {"batch size": "choices.py", "teacher dimension": "choices.py", "headline metric": "choices.py",
          "method labels": "choices.py", "repository root": "stored.py", "yes/no parser": "_env.py"}
#: Code a learner reads as it is written, where the metric's name is clearer than a constant: the exercises'
#: solutions are printed by ``solution("...")`` (their judges sit beside them, in the same files).
SHOWN_AS_WRITTEN = {"headline metric": ("course/exercises/",)}

def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _int(node, value=None) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) is int
            and (value is None or node.value == value))


def _named_values(tree: ast.AST):
    """``(name, value node)`` for every parameter default, keyword argument and dict entry with a str key."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
                yield arg.arg, default
            for arg, default in zip(args.kwonlyargs, args.kw_defaults):
                if default is not None:
                    yield arg.arg, default
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            yield node.target.id, node.value


def _climbs_to_the_root(node) -> bool:
    """Whether ``node`` is ``Path(__file__)...`` climbing two folders or more (``.parent.parent``,
    ``.parents[1]``): from a module of the package to the repository's root."""
    if not isinstance(node, (ast.Attribute, ast.Subscript)):
        return False
    climbs, inner = 0, node
    while isinstance(inner, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(inner, ast.Attribute) and inner.attr == "parent":
            climbs += 1
        elif isinstance(inner, ast.Subscript) and getattr(inner.value, "attr", None) == "parents":
            climbs += 1 + (inner.slice.value if isinstance(inner.slice, ast.Constant) else 1)
            inner = inner.value
        if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "Path":
            break
        inner = inner.func if isinstance(inner, ast.Call) else inner.value
    is_file = (isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "Path" and inner.args
               and getattr(inner.args[0], "id", None) == "__file__")
    return bool(is_file and climbs >= 2)


def findings_of(source: str) -> list[tuple[str, int]]:
    """``(kind, line)`` of every constant ``source`` restates."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for name, value in _named_values(tree):
        if name == "batch_size" and _int(value):
            found.append(("batch size", value.lineno))
        if (name == "teacher_dim" and _int(value)) or (name == "dim" and _int(value, 200)):
            found.append(("teacher dimension", value.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and node.value == "Recall@50":
            found.append(("headline metric", node.lineno))
        if isinstance(node, ast.Dict):
            named = [k.value for k, v in zip(node.keys, node.values)
                     if isinstance(k, ast.Constant) and k.value in METHODS and isinstance(v, ast.Constant)
                     and isinstance(v.value, str) and v.value.lower().startswith(k.value)]
            if len(named) >= 3:     # names, not colours: "htd": "HTD"
                found.append(("method labels", node.lineno))
        if _climbs_to_the_root(node):
            found.append(("repository root", node.lineno))
        if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
            words = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if words & {"true", "yes"}:
                found.append(("yes/no parser", node.lineno))
    return sorted(set(found), key=lambda f: f[1])


def package_findings() -> list[str]:
    """Every restated constant of the package, as ``"<file>:<line>: <kind>"``, outside each kind's owner."""
    rows = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for kind, line in findings_of(path.read_text(encoding="utf-8")):
            if rel != OWNERS[kind] and not rel.startswith(SHOWN_AS_WRITTEN.get(kind, ())):
                rows.append(f"{rel}:{line}: {kind}")
    return rows


def test_the_scan_sees_each_kind():
    source = ("from pathlib import Path\n"
              "def f(batch_size=512, teacher_dim=64, dim=200):\n    return 'Recall@50'\n"
              "LABELS = {'student': 'Student', 'ftd': 'FTD', 'htd': 'HTD'}\n"
              "COLORS = {'student': 'tab:gray', 'ftd': 'tab:blue', 'htd': 'tab:red'}\n"
              "ROOT = Path(__file__).resolve().parent.parent\n"
              "ON = ('1', 'true')\n")
    kinds = [kind for kind, _ in findings_of(source)]
    assert sorted(kinds) == sorted(OWNERS)      # one each: the colours are no labels
    assert findings_of('def g():\n    """About Recall@50."""\n    return f"test Recall@50 {HEADLINE}"\n'
                       'HERE = Path(__file__).resolve().parent\n') == []


def test_each_constant_has_one_owner():
    rows = package_findings()
    assert not rows, "restated constants (use the owner named in this file's docstring):\n" + "\n".join(rows)
