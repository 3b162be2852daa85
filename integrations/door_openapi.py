"""The OpenAPI operation of each door path, read from its spec: one operation per path and
method, with the spec's summary, request shape, example, answers and the path key.

Specs name their shapes as serializers of `integrations.schemas` (or give a JSON schema
dict), so that formats stay free of DRF; this is where the names are resolved."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from integrations import schemas

PATH_KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, description="The integration key (`ik_...`).")
IDENTIFIER_TYPE = OpenApiParameter(
    "identifierType", str, OpenApiParameter.QUERY, enum=["id", "alias", "tiny"],
    description="How `identifier` names the alert: its alias (dedup key), or the incident id (`id`, `tiny`; the default).",
)


def shape(declared):
    """A serializer named in `integrations.schemas`, or a JSON schema dict as given."""
    return getattr(schemas, declared) if isinstance(declared, str) else declared


class DoorSchema(AutoSchema):
    @property
    def spec(self):
        return self.view.spec

    @property
    def door_path(self):
        return self.view.door_path

    def get_operation_id(self):
        base = self.door_path.operation_id
        if base is None:
            return super().get_operation_id()
        method = self.method.lower()
        return base if method == "post" else f"{base}_{method}"

    def get_summary(self):
        return self.door_path.summaries[self.method.lower()]

    def get_description(self):
        return self.spec.description

    def get_tags(self):
        return ["ingest"]

    def get_auth(self):
        return []  # the key is read by the door itself, not by a DRF authenticator

    def get_override_parameters(self):
        parameters = [PATH_KEY] if self.door_path.has_path_key else []
        parameters += [OpenApiParameter(name, str, OpenApiParameter.PATH) for name in self.door_path.params]
        if "identifier" in self.door_path.params:
            parameters.append(IDENTIFIER_TYPE)
        return parameters

    @property
    def reads_body(self) -> bool:
        own = self.door_path.reads_body
        return self.spec.reads_body if own is None else own

    def get_request_serializer(self):
        if not self.reads_body:
            return None
        declared = shape(self.door_path.request_schema or self.spec.request_schema)
        # drf-spectacular reads a bare dict here as {media type: schema}.
        return {"application/json": declared} if isinstance(declared, dict) else declared

    def get_response_serializers(self):
        # 400 for a body that does not parse or validate, 401 for a key, 413 for a body that
        # is too large (any body may arrive but on GET), 429 for the rate limit.
        error = shape(self.spec.error_schema)
        ok = shape(self.door_path.ok_schema or self.spec.ok_schema)
        if self.door_path.report is not None:
            return {200: ok, 401: error, 404: error}
        errors = [400, 401, 413, 429] if self.reads_body else [401, 413, 429]
        if self.spec.invalid_status != 400 and (self.reads_body or self.door_path.parse is not None):
            errors.append(self.spec.invalid_status)
        if self.method == "GET":
            errors.remove(413)
        return {self.spec.ok_status: ok, **dict.fromkeys(errors, error)}

    def get_examples(self):
        if not self.spec.example or not self.door_path.takes_example:
            return []
        return [OpenApiExample("example", value=self.spec.example, request_only=True)]
