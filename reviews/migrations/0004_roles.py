"""The two roles as groups: Reviewers and Review leads (see reviews/permissions.py, whose lists
a test holds against these; a migration keeps its own copy, as history must not change).

The roles once also held Django REST framework's token permissions (authtoken): that app is no
longer installed, its keys were hashed into reviews.ApiToken, whose permissions the roles get
in 0014_api_token (which takes the old ones back from a database that ran this one before)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REVIEWER = [
    ("reviews", "resolve_review"),
    ("reviews", "view_reviewitem"),
    ("reviews", "view_reviewlog"),
    ("warmup", "view_account"),
    ("warmup", "view_warmupphase"),
    ("warmup", "view_phaseattempt"),
]
LEAD = [
    *REVIEWER,
    ("reviews", "manage_accounts"),
    ("warmup", "view_bot"),
    ("warmup", "add_bot"),
    ("warmup", "change_bot"),
    ("warmup", "view_contentitem"),
    ("warmup", "add_contentitem"),
    ("warmup", "change_contentitem"),
    ("warmup", "view_warmupplan"),
    ("warmup", "add_warmupplan"),
    ("warmup", "change_warmupplan"),
    ("warmup", "view_phasetemplate"),
    ("warmup", "add_phasetemplate"),
    ("warmup", "change_phasetemplate"),
    ("warmup", "delete_phasetemplate"),
]
ROLES = {"Reviewers": REVIEWER, "Review leads": LEAD}


def create_roles(apps, schema_editor):
    # Permissions are made after all migrations ran; make them now so the groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, pairs in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in pairs:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0003_manage_accounts_permission"),
        ("warmup", "0003_claim_and_queue_index_order"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
