"""The committed typed stub of the extension (python/wideflow/_core/*.pyi) matches the built module.

Every public name of every `_core` submodule (functions, classes, enum members, methods and properties) is
in the stub and every public name of the stub exists in the module; the parameters of every function and
method (names, and which ones have defaults) agree with the signatures pybind11 records for each overload.
So a binding added, renamed or removed without its stub fails here.
"""

from __future__ import annotations

import ast
import re
import types
from pathlib import Path

import pytest

import wideflow
from wideflow import _core

STUB_DIR = Path(wideflow.__file__).parent / "_core"
SUBMODULES = ("deep", "factorization", "guard", "one_layer", "random_features", "shallow")


def _stub(name: str) -> ast.Module:
    path = STUB_DIR / ("__init__.pyi" if name == "" else f"{name}.pyi")
    assert path.is_file(), f"missing stub {path}"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


STUBS = {name: _stub(name) for name in ("", *SUBMODULES)}
# classes of every stub by name (the flow-run base class lives in __init__.pyi)
CLASSES = {node.name: node for tree in STUBS.values() for node in tree.body if isinstance(node, ast.ClassDef)}


def _module_names(tree: ast.Module) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            # `from . import shallow as shallow`: a re-exported submodule
            names.update((a.asname, node) for a in node.names if a.asname == a.name and a.name in SUBMODULES)
    return names


def _class_members(cls: ast.ClassDef) -> dict[str, ast.AST]:
    members: dict[str, ast.AST] = {}
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in CLASSES:
            members.update(_class_members(CLASSES[base.id]))
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            members[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[node.target.id] = node
    return members


def _public(name: str) -> bool:
    return not name.startswith("_")


def _runtime_names(mod: types.ModuleType) -> set[str]:
    # single-underscore names that the module really has (e.g. _core._set_isa) are part of the interface too
    return {n for n in vars(mod) if not n.startswith("__")}


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def _runtime_signatures(func, name: str) -> list[list[tuple[str, bool]]]:
    """[(parameter, has default), ...] for each overload, from the signature lines pybind11 writes."""
    sigs = []
    for line in (func.__doc__ or "").splitlines():
        match = re.match(rf"^(?:\d+\. )?{re.escape(name)}\((.*)\) -> ", line)
        if match:
            params = []
            for part in _split_top(match.group(1)):
                pname = part.split(":", 1)[0].split("=", 1)[0].strip()
                if pname not in ("self", "*args", "**kwargs"):
                    params.append((pname, "=" in part))
            sigs.append(params)
    return sigs


def _stub_signature(node: ast.FunctionDef) -> list[tuple[str, bool]]:
    args = node.args.posonlyargs + node.args.args
    with_default = set(range(len(args) - len(node.args.defaults), len(args)))
    out = [(a.arg, i in with_default) for i, a in enumerate(args) if a.arg != "self"]
    out += [(a.arg, d is not None) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults)]
    return out


def _check_signature(obj, name: str, node: ast.AST, where: str) -> None:
    if not isinstance(node, ast.FunctionDef) or any(
        isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
    ):
        return
    sigs = _runtime_signatures(obj, name)
    if not sigs:  # a plain Python attribute (e.g. the enum's __init__ from pybind11) has no recorded signature
        return
    stub = _stub_signature(node)
    for sig in sigs:
        assert sig == stub, f"{where}.{name}: module has parameters {sig}, the stub {stub}"


@pytest.mark.parametrize("sub", ("", *SUBMODULES))
def test_stub_names_match_the_module(sub):
    mod = getattr(_core, sub) if sub else _core
    where = f"_core.{sub}" if sub else "_core"
    stub = _module_names(STUBS[sub])
    runtime = _runtime_names(mod)
    missing = sorted(runtime - set(stub))
    assert not missing, f"{where}: in the module but not in its stub: {missing}"
    extra = sorted(n for n in stub if _public(n) and n not in runtime)
    assert not extra, f"{where}: in the stub but not in the module: {extra}"
    for name in sorted(runtime):
        obj, node = getattr(mod, name), stub[name]
        if isinstance(obj, types.ModuleType):
            continue
        if isinstance(obj, type):
            assert isinstance(node, ast.ClassDef), f"{where}.{name}: a class in the module, not in the stub"
            members = _class_members(node)
            have = {n for n in vars(obj) if _public(n)}
            assert not sorted(have - set(members)), f"{where}.{name}: stub lacks {sorted(have - set(members))}"
            stale = sorted(n for n in members if _public(n) and n not in have)
            assert not stale, f"{where}.{name}: stub has {stale}, the class does not"
            for mname in sorted(have | ({"__init__"} & set(members))):
                _check_signature(getattr(obj, mname), mname, members[mname], f"{where}.{name}")
        else:
            assert isinstance(node, ast.FunctionDef), f"{where}.{name}: a function in the module, not in the stub"
            _check_signature(obj, name, node, where)


def test_signature_parser_sees_every_kernel():
    """The signature check above is not vacuous: pybind11's signature lines are found and parsed."""
    sigs = _runtime_signatures(_core.shallow.gd_sorted, "gd_sorted")
    assert len(sigs) == 2  # float64 and float32
    assert [p for p, _ in sigs[0]][-2:] == ["bins", "bins_valid"]
    assert ("threads", True) in _runtime_signatures(_core.factorization.Flow64.__init__, "__init__")[0]
