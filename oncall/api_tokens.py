"""`/api/v1/api-tokens/`: the requesting person's own REST tokens.

GET lists them (name, first characters, created, expiry; never the token), POST {name,
expires_in_days} makes one and answers the raw token in that one response, DELETE revokes
one. Another person's token is a 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from oncall import tokens
from oncall.models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created", "expiry"]

    def get_prefix(self, token) -> str:
        return tokens.shown_prefix(token)


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        required=False, min_value=1, max_value=tokens.MAX_TTL_DAYS,
        help_text="Default: API_TOKEN_TTL_DAYS. Tokens that never expire come from the command line only.",
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The raw token: in this response only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return tokens.live_tokens(self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token, raw = tokens.create_token(
                request.user, data.validated_data["name"],
                ttl_days=data.validated_data.get("expires_in_days", -1),
            )
        except tokens.TokenRefused as refused:
            raise serializers.ValidationError({"detail": str(refused)}) from None
        body = ApiTokenSerializer(token).data | {"token": raw}
        return Response(body, status=status.HTTP_201_CREATED)
