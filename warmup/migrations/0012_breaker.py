"""Breakers (warmup.services.breaker), and review leads may close one by hand: the Review
leads group gets warmup.close_breaker (this migration keeps its own copy of the names, as
history must not change)."""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.conf import settings
from django.db import migrations, models


LEADS = "Review leads"
CLOSE_BREAKER = ("warmup", "close_breaker")


def grant_close_breaker(apps, schema_editor):
    # Permissions are made after all migrations ran; make them now so the group can hold it.
    app_config = apps.get_app_config("warmup")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=LEADS)
    app_label, codename = CLOSE_BREAKER
    group.permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )


def revoke_close_breaker(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    app_label, codename = CLOSE_BREAKER
    for permission in Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ):
        permission.group_set.clear()


class Migration(migrations.Migration):

    dependencies = [
        ('warmup', '0011_backfill_signatures'),
        ('reviews', '0004_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Breaker',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('phase_type', models.SlugField()),
                ('platform', models.CharField(blank=True, choices=[('instagram', 'Instagram'), ('tiktok', 'TikTok'), ('x', 'X'), ('facebook', 'Facebook'), ('youtube', 'YouTube')], max_length=20)),
                ('state', models.CharField(choices=[('open', 'Open'), ('half_open', 'Half open'), ('closed', 'Closed')], default='open', max_length=10)),
                ('opened_at', models.DateTimeField(help_text='The last opening (a failed trial reopens it).')),
                ('cooldown_until', models.DateTimeField(help_text='When its trial claims may begin.')),
                ('trials_left', models.PositiveSmallIntegerField(default=0)),
                ('openings', models.PositiveSmallIntegerField(default=1)),
                ('failures', models.PositiveIntegerField(default=0)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('close_reason', models.CharField(blank=True, choices=[('fixed_credentials', 'Fixed credentials'), ('solved_challenge', 'Solved challenge'), ('replaced_proxy', 'Replaced proxy'), ('replaced_content', 'Replaced content'), ('waited_out_limit', 'Waited out limit'), ('false_alarm', 'False alarm'), ('account_lost', 'Account lost'), ('other', 'Other')], max_length=30)),
                ('close_note', models.TextField(blank=True)),
                ('bot', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='warmup.bot')),
                ('closed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('phase', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='warmup.warmupphase')),
                ('signature', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='breakers', to='warmup.failuresignature')),
            ],
            options={
                'ordering': ['-opened_at', '-id'],
                'permissions': [('close_breaker', 'Can close a failure breaker')],
                'indexes': [models.Index(condition=models.Q(('closed_at__isnull', True)), fields=['phase_type'], name='breaker_live_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('closed_at__isnull', True)), fields=('signature',), name='breaker_one_live_per_signature'), models.CheckConstraint(condition=models.Q(('state__in', ['open', 'half_open', 'closed'])), name='breaker_state_valid'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'closed'), ('closed_at__isnull', False)), models.Q(models.Q(('state', 'closed'), _negated=True), ('closed_at__isnull', True)), _connector='OR'), name='breaker_closed_has_closed_at')],
            },
        ),
        migrations.RunPython(grant_close_breaker, revoke_close_breaker),
    ]
