"""The no-op task the django-tasks peer defers and runs (`bench/peers.py`): a module of its own
because the database backend stores a task by its import path."""

from django_tasks import task


@task()
def noop() -> None:
    return None
