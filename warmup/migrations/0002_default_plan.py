from datetime import timedelta

from django.db import migrations

DEFAULT_PLAN_STEPS = [
    # phase_type, name, requires_content, delay after the previous phase, lease duration
    ("profile_bio", "Set profile bio", True, timedelta(0), timedelta(minutes=10)),
    ("avatar", "Upload avatar", True, timedelta(hours=6), timedelta(minutes=10)),
    ("follow_accounts", "Follow a few accounts", False, timedelta(hours=12), timedelta(minutes=30)),
    ("first_post", "Publish the first post", True, timedelta(days=1), timedelta(minutes=20)),
    ("first_story", "Publish the first story", True, timedelta(days=1), timedelta(minutes=20)),
]


def install_default_plan(apps, schema_editor):
    WarmupPlan = apps.get_model("warmup", "WarmupPlan")
    PhaseTemplate = apps.get_model("warmup", "PhaseTemplate")
    plan, created = WarmupPlan.objects.get_or_create(
        slug="default",
        defaults={
            "name": "Default warmup",
            "description": "Bio, avatar, a few follows, then a first post and story over ~3 days.",
        },
    )
    if not created:
        return
    for order, (phase_type, name, requires_content, delay, lease) in enumerate(
        DEFAULT_PLAN_STEPS, start=1
    ):
        PhaseTemplate.objects.create(
            plan=plan,
            order=order,
            phase_type=phase_type,
            name=name,
            requires_content=requires_content,
            delay=delay,
            lease_duration=lease,
        )


def remove_default_plan(apps, schema_editor):
    apps.get_model("warmup", "WarmupPlan").objects.filter(slug="default", accounts=None).delete()


class Migration(migrations.Migration):
    dependencies = [("warmup", "0001_initial")]

    operations = [migrations.RunPython(install_default_plan, remove_default_plan)]
