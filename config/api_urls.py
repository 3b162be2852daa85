"""`/api/v1/`: one router; each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from escalation.api import ContactMethodViewSet, EscalationPolicyViewSet, NotificationRuleViewSet
from incidents.api import IncidentViewSet
from incidents.api_rules import SuppressionRuleViewSet
from integrations.api import IntegrationKeyViewSet
from oncall.api import OnCallViewSet, ScheduleViewSet
from oncall.api_teams import TeamViewSet
from oncall.api_tokens import ApiTokenViewSet


# No `.json` suffix routes: the API speaks JSON only, and DRF's suffix passes a `format`
# argument that the custom actions do not take (a 500 on `/incidents/1/notes.json`, T48).
class JsonOnlyRouter(DefaultRouter):
    include_format_suffixes = False


router = JsonOnlyRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("integration-keys", IntegrationKeyViewSet, basename="integration-key")
router.register("teams", TeamViewSet, basename="team")
router.register("escalation-policies", EscalationPolicyViewSet, basename="escalation-policy")
router.register("contact-methods", ContactMethodViewSet, basename="contact-method")
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("oncall", OnCallViewSet, basename="oncall")
router.register("suppression-rules", SuppressionRuleViewSet, basename="suppression-rule")
router.register("api-tokens", ApiTokenViewSet, basename="api-token")

urlpatterns = router.urls
