# Partial indexes for the noise-reduction sweeps (flapping, maintenance holds).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(condition=models.Q(("is_flapping", True)), fields=["id"], name="incident_flapping"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(
                    models.Q(("escalation_held_reason", ""), _negated=True),
                    models.Q(("status", "resolved"), _negated=True),
                ),
                fields=["id"],
                name="incident_escalation_held",
            ),
        ),
    ]
