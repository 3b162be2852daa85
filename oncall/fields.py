"""REST fields shared by every API that takes a team."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oncall.models import Team


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True,
                      "description": "Team slug (answers) or slug or id (requests)."})
class TeamField(serializers.Field):
    """A team given by slug or id, among the teams the requesting user belongs to."""

    default_error_messages = {"unknown": "No team with this slug or id among your teams."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str) or str(data).strip() == "":
            self.fail("unknown")
        if "\x00" in str(data):  # in no slug, and PostgreSQL refuses it in a query
            self.fail("unknown")
        value = str(data).strip()
        lookup = {"pk": int(value)} if value.isdecimal() else {"slug": value}
        team = Team.objects.for_user(self.context["request"].user).filter(**lookup).first()
        if team is None:
            self.fail("unknown")
        return team

    def to_representation(self, value):
        return value.slug
