"""The menu tree of one user: declared items, filtered by live plugins and permissions."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext

from core.permissions import hcrm
from core.plugins import CORE


@dataclass
class MenuNode:
    id: str
    title: str
    url: str | None
    icon: str | None
    order: int
    endpoint: str | None = None
    children: list[MenuNode] = field(default_factory=list)
    active: bool = False


def build_menu(permissions: set[str], live: set[str], path: str | None) -> list[MenuNode]:
    """Nested, ordered nodes the user may see; groups without a visible child are dropped.

    The active item is the one whose page is the longest prefix of ``path``, so a detail page
    (``/admin/users/7``) lights up its list's item (``/admin/users``).
    """
    items = hcrm().catalog.menus.values()
    visible = [i for i in items
               if (i.plugin == CORE or i.plugin in live)
               and (i.permission is None or i.permission in permissions)]
    nodes = {i.id: MenuNode(id=i.id, title=gettext(i.title), icon=i.icon, order=i.order,
                            endpoint=i.endpoint, url=url_for(i.endpoint) if i.endpoint else None)
             for i in visible}
    roots: list[MenuNode] = []
    for item in sorted(visible, key=lambda i: (i.order, i.id)):
        node = nodes[item.id]
        if item.parent is None:
            roots.append(node)
        elif item.parent in nodes:
            nodes[item.parent].children.append(node)
    best = max((n for n in nodes.values() if n.url and _covers(n.url, path or "")),
               key=lambda n: len(n.url), default=None)
    return _prune(roots, best.id if best else None)


def _covers(url: str, path: str) -> bool:
    if url == path:
        return True
    if url == "/" or not path.startswith(url.rstrip("/")):
        return False
    rest = path[len(url.rstrip("/")):]
    return rest == "" or rest[0] in "/."


def _prune(nodes: list[MenuNode], active_id: str | None) -> list[MenuNode]:
    kept = []
    for node in nodes:
        node.children = _prune(node.children, active_id)
        if node.url is None and not node.children:
            continue
        node.active = node.id == active_id or any(c.active for c in node.children)
        kept.append(node)
    return kept
