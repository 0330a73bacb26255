"""aiortc's and aioice's private API is used in one module only, `live.media.aiortc_private`, and the names it
needs are there in the installed versions (issue #11).

The scan reads every other module of `live` (AST, no import) and reports:
- an import of an underscore name from aiortc/aioice;
- a string naming a mangled private attribute of an aiortc/aioice class (`"_RTCRtpSender__mid"`);
- `obj._name` (or `getattr(obj, "_name")`) where `_name` is private in aiortc/aioice (their classes define or
  use it) and no class of `live` defines it;
- `self._name` in a class deriving from an aiortc/aioice class, where `_name` belongs to that base.
The private names come from the installed packages: every class's attributes and its methods' code names.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import tomllib
import types
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aioice
import aiortc
import pytest
from aiortc import RTCRtpSender
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from live.media import aiortc_private

ROOT = Path(__file__).resolve().parent.parent
LIVE = ROOT / "live"
THE_MODULE = LIVE / "media" / "aiortc_private.py"
LIBRARIES = ("aiortc", "aioice")


def _private(name: str) -> bool:
    # Not a dunder (`__init__`) nor an Enum's sunder (`_value2member_map_`).
    return name.startswith("_") and not name.endswith("_")


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_names(constant)
    return names


def _own_names(cls: type) -> set[str]:
    """What `cls` itself defines and its own methods' code touches (not what it inherits)."""
    names: set[str] = set()
    for name, value in vars(cls).items():
        names.add(name)
        function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if isinstance(getattr(function, "__code__", None), types.CodeType):
            names |= _code_names(function.__code__)
    return names


@cache
def library_classes() -> dict[str, type]:
    """Every class defined in aiortc and aioice, by name."""
    classes: dict[str, type] = {}
    for package in (aiortc, aioice):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if inspect.isclass(value) and value.__module__ == module.__name__:
                    classes[value.__name__] = value
    return classes


@cache
def library_private_names() -> frozenset[str]:
    return frozenset(n for cls in library_classes().values() for n in _own_names(cls) if _private(n))


@cache
def mangling_classes() -> frozenset[str]:
    """aiortc/aioice classes with name-mangled (`self.__x`) attributes."""
    return frozenset(
        name for name, cls in library_classes().items() if any(n.startswith(f"_{name}__") for n in _own_names(cls))
    )


def _library_base_names(cls: type) -> set[str]:
    return {n for base in cls.__mro__ if base.__module__.split(".")[0] in LIBRARIES for n in _own_names(base)}


@dataclass
class Module:
    path: str
    tree: ast.Module
    # Local name -> aiortc/aioice class, from the module's imports.
    imported: dict[str, type]


def parse(path: str, source: str) -> Module:
    tree = ast.parse(source)
    imported: dict[str, type] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            for alias in node.names:
                value = getattr(importlib.import_module(node.module), alias.name, None)
                if inspect.isclass(value):
                    imported[alias.asname or alias.name] = value
    return Module(path, tree, imported)


def library_bases(module: Module, node: ast.ClassDef) -> list[type]:
    names = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases]
    return [module.imported[n] for n in names if n in module.imported]


def own_private_names(modules: list[Module]) -> set[str]:
    """Private names `live` defines itself: methods, class attributes, and `self._x =` not taken from a base."""
    names: set[str] = set()
    for module in modules:
        for cls in (n for n in ast.walk(module.tree) if isinstance(n, ast.ClassDef)):
            inherited = {n for base in library_bases(module, cls) for n in _library_base_names(base)}
            for node in ast.walk(cls):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in ("self", "cls")
                    and node.attr not in inherited
                ):
                    names.add(node.attr)
    return {n for n in names if _private(n)}


def offences(module: Module, own: set[str]) -> list[str]:
    """Every place in `module` that touches a private aiortc/aioice name (see the module docstring)."""
    private = library_private_names() - own
    alternatives = "|".join(map(re.escape, mangling_classes()))
    mangled = re.compile(rf"_({alternatives})__")
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{module.path}:{getattr(node, 'lineno', '?')}: {what}")

    def visit(node: ast.AST, inherited: set[str]) -> None:
        if isinstance(node, ast.ClassDef):
            inherited = {n for base in library_bases(module, node) for n in _library_base_names(base)}
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            for alias in node.names:
                if _private(alias.name) or any(_private(part) for part in node.module.split(".")):
                    report(node, f"imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES and any(_private(p) for p in alias.name.split(".")):
                    report(node, f"imports {alias.name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (match := mangled.search(node.value)):
            report(node, f"names {match.group(0)}... in a string")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in private
        ):
            report(node, f"{node.func.id}(..., {node.args[1].value!r})")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if on_self and node.attr in inherited:
                report(node, f"self.{node.attr} of an aiortc/aioice base class")
            elif not on_self and node.attr in private:
                report(node, f".{node.attr}")
        for child in ast.iter_child_nodes(node):
            visit(child, inherited)

    visit(module.tree, set())
    return found


@cache
def live_modules() -> list[Module]:
    return [
        parse(str(path.relative_to(ROOT)), path.read_text())
        for path in sorted(LIVE.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_no_module_but_aiortc_private_touches_aiortc_or_aioice_private_names() -> None:
    modules = live_modules()
    own = own_private_names(modules)
    found = [o for m in modules if m.path != str(THE_MODULE.relative_to(ROOT)) for o in offences(m, own)]
    assert found == [], "use live.media.aiortc_private for these:\n" + "\n".join(found)


def test_the_scan_finds_the_private_names_aiortc_private_uses() -> None:
    """The scan is not blind: run over `aiortc_private` itself, it finds the names that module exists for."""
    modules = live_modules()
    own = own_private_names(modules)
    (module,) = [m for m in modules if m.path == str(THE_MODULE.relative_to(ROOT))]
    text = "\n".join(offences(module, own))
    for expected in ("._run_rtp", "._stream_id", "._tx_srtp", "._nominated", "._send_rtcp_pli", "._id"):
        assert expected in text
    assert "_RTCRtpSender__" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(sender):\n    return sender._ssrc\n", "._ssrc"),
        ("def f(connection):\n    return connection._nominated.get(1)\n", "._nominated"),
        ("def f(sender):\n    return getattr(sender, '_rtx_ssrc')\n", "getattr(..., '_rtx_ssrc')"),
        ("NAME = '_RTCRtpReceiver__decoder_queue'\n", "names _RTCRtpReceiver__"),
        ("from aiortc.mediastreams import MediaStreamTrack\n"
         "class T(MediaStreamTrack):\n    def __init__(self):\n        self._id = 'x'\n", "self._id of an aiortc"),
        ("from aiortc.rtcrtpsender import _private_helper\n", "imports aiortc.rtcrtpsender._private_helper"),
    ],
)
def test_the_scan_reports_each_kind_of_use(source: str, expected: str) -> None:
    found = offences(parse("example.py", source), own_private_names(live_modules()))
    assert len(found) == 1 and expected in found[0], found


def test_live_objects_own_private_names_are_not_reported() -> None:
    source = "from aiortc.mediastreams import MediaStreamTrack\nclass T(MediaStreamTrack):\n    def f(self, other):\n"
    source += "        self._queue = []\n        other._close()\n"
    assert offences(parse("example.py", source), own_private_names(live_modules())) == []


def test_the_installed_aiortc_has_every_private_name_it_needs() -> None:
    assert aiortc_private.missing_names(aiortc_private.REQUIRED) == []
    aiortc_private.check()


def test_a_missing_private_name_fails_naming_it() -> None:
    with pytest.raises(aiortc_private.AiortcPrivateApiError) as raised:
        aiortc_private.check({RTCRtpSender: ("_run_rtp", "_RTCRtpSender__renamed")})
    message = str(raised.value)
    assert "aiortc.rtcrtpsender.RTCRtpSender._RTCRtpSender__renamed" in message
    assert "_run_rtp" not in message and aiortc_private.WRITTEN_FOR in message


def test_the_aiortc_bound_is_the_range_aiortc_private_was_written_for() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (requirement,) = [Requirement(d) for d in dependencies if Requirement(d).name == "aiortc"]
    upper = [s for s in requirement.specifier if s.operator == "<"]
    assert upper, "aiortc needs an upper bound in pyproject.toml"
    assert requirement.specifier == SpecifierSet(aiortc_private.AIORTC_RANGE)
    assert requirement.specifier.contains(aiortc.__version__)
