"""The import graph flows one way: no module imports an HTTP route module (only the app factory wires them), and
module-level imports between `live` modules form no cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

LIVE = Path(__file__).resolve().parent.parent / "live"
# Only the app factory may import the HTTP edge: a module that declares routes (`web.RouteTableDef()`, or the
# API's `ApiRoutes(...)` declarations).
WIRING = {"live.app"}
PAGE_TOOLKIT = "live.pages.base"


def is_route_module(path: Path) -> bool:
    text = path.read_text()
    return re.search(r"^\w+ = (web\.RouteTableDef|ApiRoutes)\(", text, re.MULTILINE) is not None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIVE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """`live.*` modules imported by `path` (a `from live.x import y` counts `live.x.y` when that is a module)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("live"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("live") and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif not top_level_only:
                visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + getattr(node, "orelse", []) + [s for h in getattr(node, "handlers", []) for s in h.body])

    visit(tree.body)
    return found


def graph(*, top_level_only: bool) -> dict[str, set[str]]:
    paths = [p for p in LIVE.rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p): p for p in paths}
    return {name: {m for m in imports(path, top_level_only=top_level_only) if m in modules and m != name}
            for name, path in modules.items()}


def test_no_module_but_the_app_factory_imports_a_route_module() -> None:
    routes = {module_name(p) for p in LIVE.rglob("*.py") if "migrations" not in p.parts and is_route_module(p)}
    assert "live.sessions.routes" in routes and "live.accounts.routes" in routes
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in graph(top_level_only=False).items()
        if name not in WIRING
        for target in targets
        # An edge may render with the pages' toolkit (live.pages.base) and share its own package's routes;
        # nothing reaches into another capability's routes, and no domain or store module into any.
        if target in routes
        and name.rsplit(".", 1)[0] != target.rsplit(".", 1)[0]
        and not (target == PAGE_TOOLKIT and name in routes)
    )
    assert offenders == [], "wire formats belong beside their stores (wire.py), not in routes:\n" + "\n".join(offenders)


def test_module_level_imports_form_no_cycle() -> None:
    edges = graph(top_level_only=True)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])
    # A package's __init__ importing its own submodules is not a cycle of concepts.
    cycles = [c for c in cycles if not all(m.startswith(c[0].rsplit(".", 1)[0]) for m in c) or len(c) > 3]
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# The modules that own Redis keys of a session (each documents its layout); see live/redis.py.
SESSION_STORES = {
    "live.rooms.presence",
    "live.chat.store",
    "live.polls.board",
    "live.speakers.store",
    "live.recordings.current",
}


def test_only_the_stores_name_session_keys_and_only_live_redis_makes_clients() -> None:
    naming: set[str] = set()
    clients: set[str] = set()
    for path in LIVE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "live.redis":
                if {a.name for a in node.names} & {"session_key", "kv_key"}:
                    naming.add(name)
            elif isinstance(node, ast.Import) and any(a.name in ("redis", "redis.asyncio") for a in node.names):
                clients.add(name)
            elif isinstance(node, ast.ImportFrom) and node.module in ("redis", "redis.asyncio"):
                clients.add(name)
    # A capability's state in Redis is a store of its own (live.rooms.stores), not another module's keys.
    assert naming == SESSION_STORES
    # live.autopipeline is the client class live.redis.redis_client builds (commands batched per loop turn).
    assert clients <= {"live.redis", "live.autopipeline"}, "connect through live.redis.redis_client: " + ", ".join(
        sorted(clients)
    )
