"""Route templates from an OpenAPI 3 or Swagger 2 document, JSON or YAML.

The document is read with a YAML loader (JSON is YAML too, but the JSON parser is tried first:
it is faster and its errors are clearer), then its `paths` are walked: each key is a template,
each operation key a method. The templates are prefixed with the document's base path (the
path of the first server's URL in OpenAPI 3, `basePath` in Swagger 2), since gateways log the
full path; a caller whose gateway strips that prefix passes its own `base_path`.
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from ingest.routes import normalize_template, template_error

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_PATHS = 5000
OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SERVER_VARIABLE = re.compile(r"\{([^{}]*)\}")


class DocumentError(ValueError):
    """A document that cannot be imported; the message says why."""


@dataclass
class Route:
    template: str
    methods: list[str]


@dataclass
class Document:
    title: str
    spec: str  # "OpenAPI 3.1.0", "Swagger 2.0"
    base_path: str
    routes: list[Route] = field(default_factory=list)
    # (path key, reason) of the paths that could not be used.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_document(data: bytes, base_path: str | None = None) -> Document:
    """The routes of an OpenAPI 3 / Swagger 2 document; DocumentError when it is not one."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"document: over {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"document: not UTF-8 text (byte {exc.start})") from None
    doc = _parse(text)
    if not isinstance(doc, dict):
        raise DocumentError("document: expected an OpenAPI object at the top")
    spec = _spec(doc)
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise DocumentError("paths: the document has no paths to import")
    if len(paths) > MAX_PATHS:
        raise DocumentError(f"paths: {len(paths)} paths, over the limit of {MAX_PATHS}")
    if base_path is None:
        base_path = _base_path(doc)
    elif base_path and not base_path.startswith("/"):
        raise DocumentError(f"base_path: {base_path[:60]!r} does not start with '/'")
    base = base_path.rstrip("/")
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    title = str(info.get("title") or "")[:200]
    out = Document(title=title, spec=spec, base_path=base or "/")
    seen = set()
    for key, item in paths.items():
        if not isinstance(key, str) or not key.startswith("/"):
            out.skipped.append((str(key)[:200], "a path must start with '/'"))
            continue
        template = normalize_template(base + key)
        error = template_error(template)
        if error:
            out.skipped.append((key[:200], error))
            continue
        methods = []
        if isinstance(item, dict):
            methods = sorted(m.upper() for m in item if isinstance(m, str) and m in OPERATIONS)
        if template in seen:
            continue
        seen.add(template)
        out.routes.append(Route(template, methods))
    return out


def _parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "not JSON or YAML"
        raise DocumentError(f"document: not JSON or YAML: {problem}{where}") from None
    except RecursionError:
        raise DocumentError("document: nested too deeply") from None


def _spec(doc: dict) -> str:
    openapi, swagger = doc.get("openapi"), doc.get("swagger")
    if isinstance(openapi, str) and openapi.startswith("3."):
        return f"OpenAPI {openapi[:20]}"
    if str(swagger) == "2.0":
        return "Swagger 2.0"
    if openapi is not None or swagger is not None:
        version = openapi if openapi is not None else swagger
        raise DocumentError(f"openapi: version {str(version)[:20]!r} is not OpenAPI 3 or Swagger 2")
    raise DocumentError("document: not an OpenAPI 3 or Swagger 2 document (no 'openapi' field)")


def _base_path(doc: dict) -> str:
    if "swagger" in doc:
        base = doc.get("basePath")
        return base if isinstance(base, str) and base.startswith("/") else ""
    servers = doc.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    url = servers[0].get("url")
    if not isinstance(url, str):
        return ""
    variables = servers[0].get("variables")
    variables = variables if isinstance(variables, dict) else {}

    def default(match: re.Match) -> str:
        var = variables.get(match.group(1))
        value = var.get("default") if isinstance(var, dict) else None
        return str(value) if value is not None else ""

    url = _SERVER_VARIABLE.sub(default, url)
    path = urlsplit(url).path if "://" in url else url
    return path if path.startswith("/") else ""
