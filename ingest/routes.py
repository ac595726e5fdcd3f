"""Route templates: the gateway's own, a project's declared or imported ones, learned
parameters, or derived from the shapes of the path's segments.

A record's route is decided once, at ingest, by `RouteTable.route` (a walk down prefix trees,
a dict lookup per segment): the project's declared patterns first, then the templates imported
from its OpenAPI document, else the route derived from the path (`derive_route`) with the
project's learned parameters applied. A gateway's own route (Kong, APISIX, Traefik…) wins over
all of these; normalize keeps it before asking the table.
"""

import re
from dataclasses import dataclass, field

# Sources of a route template, as GET routes/ names them.
GATEWAY, DECLARED, OPENAPI, LEARNED, DERIVED = (
    "gateway",
    "declared",
    "openapi",
    "learned",
    "derived",
)
SOURCES = (GATEWAY, DECLARED, OPENAPI, LEARNED, DERIVED)

MAX_TEMPLATE = 512
MAX_SEGMENTS = 64
PARAM = re.compile(r"\{([^/{}]*)\}")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-+]{0,63}$")

# -- derivation ------------------------------------------------------------------------------
# Each shape is anchored; the first that matches names the parameter. Most segments are words
# (`orders`, `v1`, `payment_methods`) and are settled by the quick checks in `_param_for`.
_DATE = re.compile(
    r"^\d{4}-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?$"
)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}(?:@|%40)[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,24}$")
_ID = re.compile(
    r"""^(?:
        [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}  # UUID
      | [0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}                   # ULID
      | (?=[a-fA-F]*\d)[0-9a-fA-F]{8,}                        # hex: a short SHA, a digest
      | \d+(?:[-_:]\d+)+ | \d+(?:\.\d+){2,}                    # 2024_0001, 10.0.0.1, 1.4.2
      | \+?\d[\d\-]{6,}                                       # +1-555-0100-200
      | [A-Za-z]{1,20}(?:[-_][A-Za-z]{1,20}){0,3}[-_]\d{2,}(?:[-_][A-Za-z0-9]{1,20}){0,4}
                                                              # order-00017, INV-2024-0001
      | [A-Za-z]{1,12}\d{5,}                                  # user12345 (not v1, iso8601)
      | [a-z]{1,16}(?:_[a-z]{1,16})?_(?=[A-Za-z0-9]*[0-9A-Z])[A-Za-z0-9]{8,}
                                                              # cus_NffrFeUfNV2Hib, sk_test_…
      | (?=[A-Z0-9]*\d[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{8,}  # C024BE91L (Slack)
      | (?=[A-Za-z0-9_\-=.~]*\d)(?=[A-Za-z0-9_\-=.~]*[A-Za-z])[A-Za-z0-9_\-=.~]{16,}
                                                              # opaque: base64url, tokens
    )$""",
    re.VERBOSE,
)
# An id with a file extension (`550e8400-….png`, `IMG_0001.JPG`): the stem is the id.
_EXTENSION = re.compile(r"^(.+?)((?:\.[A-Za-z][A-Za-z0-9]{0,5}){1,2})$")
# A content hash between a file's name and its extension (`app.3fa9b2c1.js`).
_HASH_PART = re.compile(r"(?=[a-fA-F]*\d)[0-9a-fA-F]{8,}$")


def _param_for(segment: str) -> str | None:
    """The parameter a segment stands for ({id}, {date}, {email}), or None for a literal."""
    if segment.isdigit() and segment.isascii():
        return "{id}"
    if segment.isalpha() or "{" in segment:
        # Words, and parameters already in place (a template routed again) stay as they are.
        return None
    if "." in segment:
        ext = _EXTENSION.match(segment)
        if ext:
            param = _shape(ext.group(1))
            if param is not None:
                return param + ext.group(2)
        param = _shape(segment)
        if param is None and any(_HASH_PART.match(p) for p in segment.split(".")[1:-1]):
            return "{id}"  # as a longer fingerprinted name is (an opaque id)
        return param
    return _shape(segment)


def _shape(segment: str) -> str | None:
    if segment.isdigit() and segment.isascii():
        return "{id}"
    if _DATE.match(segment):
        return "{date}"
    if "@" in segment or "%40" in segment:
        return "{email}" if _EMAIL.match(segment) else None
    if _ID.match(segment):
        return "{id}"
    return None


# Literal segments seen recently (`v1`, `payment_methods`): they come back on most records,
# ids seldom do. Bounded, and emptied when full, so hostile paths cannot grow it.
_LITERALS: set[str] = set()
_MAX_LITERALS = 4096


def derive_route(path: str) -> str:
    """Replace id-like path segments with parameters: /v1/orders/42 -> /v1/orders/{id},
    /reports/2024-05-01 -> /reports/{date}, /users/a@b.io -> /users/{email}."""
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if not seg or seg in _LITERALS:
            continue
        param = _param_for(seg)
        if param is not None:
            segments[i] = param
        elif len(seg) <= 64:
            if len(_LITERALS) >= _MAX_LITERALS:
                _LITERALS.clear()
            _LITERALS.add(seg)
    return "/".join(segments)


# -- templates -------------------------------------------------------------------------------
def template_error(template) -> str | None:
    """Why a template cannot be used as a route pattern, or None when it can."""
    if not isinstance(template, str):
        return f"expected a string, got {type(template).__name__}"
    if not template.startswith("/"):
        return f"{template[:60]!r} does not start with '/'"
    if len(template) > MAX_TEMPLATE:
        return f"{len(template)} characters, over the limit of {MAX_TEMPLATE}"
    if not template.isprintable() or any(c.isspace() for c in template):
        return f"{template[:60]!r} holds spaces or control characters"
    if "?" in template or "#" in template:
        return f"{template[:60]!r}: a template is a path, without '?' or '#'"
    if template.count("/") > MAX_SEGMENTS:
        return f"more than {MAX_SEGMENTS} segments"
    names = []
    for seg in template.split("/"):
        rest = PARAM.sub("", seg)
        if "{" in rest or "}" in rest:
            return f"{template[:60]!r}: unbalanced braces in {seg[:40]!r}"
        for name in PARAM.findall(seg):
            if not PARAM_NAME.match(name):
                return f"{template[:60]!r}: {{{name[:40]}}} is not a parameter name"
            names.append(name)
        if "}{" in seg:
            return f"{template[:60]!r}: two parameters in a row cannot be told apart"
    return None


def normalize_template(template: str) -> str:
    """One spelling per template: no trailing slash (except the root), no doubled slashes."""
    template = re.sub(r"/{2,}", "/", template)
    return template.rstrip("/") or "/"


@dataclass
class _Node:
    literals: dict[str, "_Node"] = field(default_factory=dict)
    param: "_Node | None" = None  # a whole-segment parameter: {id}
    mixed: list[tuple[re.Pattern[str], "_Node"]] = field(default_factory=list)  # {name}.{ext}
    template: str | None = None


def _segment_regex(segment: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]*\})", segment)
    return re.compile(
        "".join("[^/]+?" if p.startswith("{") else re.escape(p) for p in parts if p) + "$"
    )


class Templates:
    """Full-path templates (declared, imported) as a prefix tree; the most literal match wins,
    as OpenAPI asks (/users/me before /users/{id})."""

    def __init__(self, templates=()):
        self.root = _Node()
        self.count = 0
        for template in templates:
            self.add(template)

    def add(self, template: str) -> None:
        node = self.root
        for seg in _segments(template):
            if PARAM.fullmatch(seg):
                node.param = node.param or _Node()
                node = node.param
            elif "{" in seg:
                for regex, child in node.mixed:
                    if regex.pattern == _segment_regex(seg).pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    node.mixed.append((_segment_regex(seg), child))
                    node = child
            else:
                node = node.literals.setdefault(seg, _Node())
        if node.template is None:
            node.template = template
            self.count += 1

    def match(self, path: str) -> str | None:
        """The template the path matches, or None."""
        if self.count == 0:
            return None
        return _walk(self.root, _segments(path), 0)


def _segments(path: str) -> list[str]:
    path = path.rstrip("/")
    return path.split("/")[1:] if path else []


def _walk(node: _Node, segs: list[str], i: int) -> str | None:
    # Depth-first, literal before mixed before parameter; templates are few levels deep, so
    # the backtracking stays small.
    if i == len(segs):
        return node.template
    seg = segs[i]
    child = node.literals.get(seg)
    if child is not None:
        found = _walk(child, segs, i + 1)
        if found is not None:
            return found
    for regex, child in node.mixed:
        if regex.match(seg):
            found = _walk(child, segs, i + 1)
            if found is not None:
                return found
    if node.param is not None and seg:
        return _walk(node.param, segs, i + 1)
    return None


@dataclass(frozen=True)
class LearnedParam:
    """A learned rule: under `parent` (a route template), the next segment is `name`."""

    parent: str
    name: str

    @property
    def template(self) -> str:
        return (self.parent.rstrip("/") or "") + "/" + self.name


@dataclass
class _LearnedNode:
    literals: dict[str, "_LearnedNode"] = field(default_factory=dict)
    param: str | None = None
    below: "_LearnedNode | None" = None


class Learned:
    """Learned parameters as a prefix tree over derived routes: walking a route, a node with a
    parameter replaces whatever segment comes next (a word, a number, {id})."""

    def __init__(self, params=()):
        self.root = _LearnedNode()
        self.count = 0
        for p in params:
            self.add(p)

    def add(self, param: LearnedParam) -> None:
        node = self.root
        for seg in _segments(param.parent):
            if node.param is not None and seg == node.param:
                node = node.below
            else:
                node = node.literals.setdefault(seg, _LearnedNode())
        if node.param is None:
            node.param = param.name
            node.below = _LearnedNode()
            self.count += 1

    def apply(self, route: str) -> tuple[str, bool]:
        """The route with the learned parameters in place, and whether any applied."""
        if self.count == 0:
            return route, False
        segs = route.split("/")
        node, changed = self.root, False
        for i in range(1, len(segs)):
            if node.param is not None and segs[i]:
                if segs[i] != node.param:
                    segs[i] = node.param
                    changed = True
                node = node.below
            else:
                node = node.literals.get(segs[i])
                if node is None:
                    break
        return "/".join(segs), changed


class RouteTable:
    """A project's routing: declared patterns, imported templates, learned parameters."""

    def __init__(self, declared=(), imported=(), learned=()):
        self.declared = Templates(declared)
        self.imported = Templates(imported)
        self.learned = Learned(learned)

    def route(self, path: str) -> tuple[str, str]:
        """(template, source) for a path without a gateway route; a derived route longer than
        a template may be is cut (an endpoint's route is at most MAX_TEMPLATE characters)."""
        found = self.declared.match(path)
        if found is not None:
            return found, DECLARED
        found = self.imported.match(path)
        if found is not None:
            return found, OPENAPI
        route, changed = self.learned.apply(derive_route(path))
        if len(route) > MAX_TEMPLATE:
            route = route[: MAX_TEMPLATE - 1] + "…"
        return route, (LEARNED if changed else DERIVED)


EMPTY_TABLE = RouteTable()


def route_for(path: str, patterns: list[str] | tuple[str, ...] = ()) -> str:
    """The first of the declared patterns that matches the path, else the derived route."""
    return RouteTable(declared=patterns).route(path)[0]


# Route tables per project, rebuilt when the project's routing changes: ingest reads the
# project row for every request anyway, so the check costs nothing and a change made by any
# process (the API, learning) is seen by the next request of every process.
_TABLES: dict[int, tuple[tuple, RouteTable]] = {}
_MAX_TABLES = 1000


def project_table(project) -> RouteTable:
    """The project's route table (declared patterns, imported templates, learned rules)."""
    declared = tuple(p for p in project.route_patterns or () if isinstance(p, str))
    # created_at: a project made anew under a reused id (SQLite rolls ids back) is not the same.
    key = (project.created_at, project.routes_version, declared)
    cached = _TABLES.get(project.id)
    if cached is not None and cached[0] == key:
        return cached[1]
    table = build_table(project, declared)
    if len(_TABLES) >= _MAX_TABLES:
        _TABLES.clear()
    _TABLES[project.id] = (key, table)
    return table


def build_table(project, declared: tuple[str, ...] | None = None) -> RouteTable:
    """A fresh route table from the project's settings and its route rules."""
    from monitor.models import RouteRule

    if declared is None:
        declared = tuple(p for p in project.route_patterns or () if isinstance(p, str))
    imported, learned = [], []
    rules = RouteRule.objects.filter(project_id=project.id, removed_at__isnull=True)
    for source, template, parent in rules.order_by("id").values_list(
        "source", "template", "parent"
    ):
        if source == RouteRule.Source.OPENAPI:
            imported.append(template)
        else:
            learned.append(LearnedParam(parent, template.rsplit("/", 1)[1]))
    return RouteTable(declared=declared, imported=imported, learned=learned)
