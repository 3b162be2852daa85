# The escalation tick's claim orders by (next_escalation_at, id): the partial index holds both.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_event_orphan_index'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='incident',
            name='incident_escalation_due',
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(condition=models.Q(('next_escalation_at__isnull', False), ('status', 'triggered')), fields=['next_escalation_at', 'id'], name='incident_escalation_due'),
        ),
    ]
