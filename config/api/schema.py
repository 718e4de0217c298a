"""The OpenAPI schema's own parts that drf-spectacular does not derive from the views."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api.throttling import LimitFailedAuthentication


class SchemaView(LimitFailedAuthentication, SpectacularAPIView):
    """/api/schema/: open to all, but a token it is sent is checked, so a wrong one counts
    under the APIs' per-address limit (AUTH_FAILURE_RATE) and, past it, gets 429."""

    count_anonymous = False


class DocsView(LimitFailedAuthentication, SpectacularSwaggerView):
    """/api/docs/: the schema's page, limited as SchemaView."""

    count_anonymous = False


def add_servers(result: dict, generator, request=None, public=True, **kwargs) -> dict:
    """A `servers` entry, so a generated client knows its base URL: the host the schema was
    fetched from, else WARMUP_BASE_URL (BASE_URL), else the same host (a relative "/")."""
    if request is not None:
        url = request.build_absolute_uri("/").rstrip("/")
    else:
        url = settings.WARMUP_BASE_URL.rstrip("/") or "/"
    result["servers"] = [{"url": url or "/"}]
    return result


def ref_parameter_enums(result: dict, generator, request=None, public=True, **kwargs) -> dict:
    """Point a query parameter's inline enum at the component enum with the same values
    (`category` -> FailureCategoryEnum), so a generated client has one type, not two."""
    components = result.get("components", {}).get("schemas", {})
    by_values = {
        frozenset(schema["enum"]): name
        for name, schema in components.items()
        if "enum" in schema and None not in schema["enum"]
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                name = by_values.get(frozenset(schema.get("enum", ())))
                if name is not None:
                    parameter["schema"] = {"$ref": f"#/components/schemas/{name}"}
    return result


def inline_null_enum(result: dict, generator, request=None, public=True, **kwargs) -> dict:
    """A choice that may be null reads `oneOf: [$ref Enum, {type: null}]`, as every other "or
    null" does, instead of pointing at a `NullEnum` component a generator would make a type
    of. (The API sends null, never "", for a choice not set, so there is no `BlankEnum`.)"""
    schemas = result.get("components", {}).get("schemas", {})
    null_names = [name for name, schema in schemas.items() if schema == {"type": "null"}]
    refs = {f"#/components/schemas/{name}" for name in null_names}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "oneOf" and isinstance(value, list):
                    node[key] = [
                        {"type": "null"} if item.get("$ref") in refs else item for item in value
                    ]
                walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(result.get("paths", {}))
    walk(schemas)
    for name in null_names:
        del schemas[name]
    return result
