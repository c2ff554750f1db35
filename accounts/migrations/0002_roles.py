"""Create the role groups (viewer, engineer, admin) with their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor):
    from accounts.roles import roles_sync

    # Permissions are normally created after migrate; make them now so the groups get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["viewer", "engineer", "admin"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0003_health"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
