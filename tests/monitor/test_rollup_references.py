"""The rollups' references to their project and endpoint carry no database constraint (each
was a check per new row when aggregation commits; monitor/models.py: rollup_reference), and a
deleted project still takes every rollup row of its own with it, through Django's cascade."""

import pytest
from django.apps import apps
from django.db import connection

from monitor.models import Endpoint, Project
from tests.records import record

ROLLUP_MODELS = [
    m for m in apps.get_app_config("monitor").get_models() if "rollup" in m._meta.db_table
]


def test_every_rollup_table_is_listed():
    assert len(ROLLUP_MODELS) >= 23


@pytest.mark.postgres
def test_no_rollup_table_has_a_foreign_key_constraint(db):
    tables = [m._meta.db_table for m in ROLLUP_MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [tables],
        )
        assert cursor.fetchall() == []


def test_a_deleted_project_takes_its_rollups_with_it(shop, post_logs):
    other = Project.objects.create(slug="kept", name="Kept")
    kept = Endpoint.objects.create(project=other, method="GET", route="/kept")
    records = [record(i) for i in range(20)] + [
        record(100 + i, method="PUT", path="/v1/orders/1", status=409, client=f"c{i % 2}")
        for i in range(6)
    ]
    assert post_logs(records).status_code == 200
    counted = {m: m.objects.filter(project=shop).count() for m in ROLLUP_MODELS}
    assert sum(counted.values()) > 0
    # A row of another project in each table, which must stay.
    for model in ROLLUP_MODELS:
        row = model.objects.filter(project=shop).values().first()
        if row is not None:
            row.pop("id")
            row["project_id"] = other.id
            if "endpoint_id" in row:
                row["endpoint_id"] = kept.id
            model.objects.create(**row)
    shop_id = shop.id
    shop.delete()
    for model in ROLLUP_MODELS:
        assert not model.objects.filter(project_id=shop_id).exists(), model.__name__
        if counted[model]:
            assert model.objects.filter(project=other).count() == 1, model.__name__
