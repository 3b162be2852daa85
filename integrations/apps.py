from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from integrations import key_cache
        from integrations.models import IntegrationKey

        # Revocation takes effect in this process at once (other processes: key_cache.TTL_SECONDS).
        post_save.connect(key_cache.forget_all, sender=IntegrationKey, dispatch_uid="key-cache-save")
        post_delete.connect(key_cache.forget_all, sender=IntegrationKey, dispatch_uid="key-cache-delete")
