"""`/api/v1/`: one router; each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from incidents.api import IncidentViewSet

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = router.urls
