"""Every schedule the migrations create names a task that exists (modules move; schedules are strings)."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def test_schedules_every_scheduled_func_imports_as_a_callable():
    funcs = sorted(Schedule.objects.values_list("func", flat=True))
    assert funcs  # the migrations created them
    for func in funcs:
        assert callable(import_string(func)), func
