"""``core.api.Reference``: written like ``fields.Nested`` of its schema, documented as one."""
from types import SimpleNamespace

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from core.api import Reference


class DepartmentRef(Schema):
    id = fields.Integer()
    name = fields.String()
    label = fields.String(attribute="display_name", data_key="title")


class Visit(Schema):
    department = Reference(DepartmentRef, allow_none=True)
    teams = Reference(DepartmentRef, many=True)


class NestedVisit(Schema):
    department = fields.Nested(DepartmentRef, allow_none=True)
    teams = fields.Nested(DepartmentRef, many=True)


def _dept(id_, name):
    return SimpleNamespace(id=id_, name=name, display_name=f"{name} (病区)")


def test_reference_dumps_what_nested_dumps():
    visits = [SimpleNamespace(department=_dept(3, "内科"), teams=[_dept(4, "A组"), _dept(5, None)]),
              SimpleNamespace(department=None, teams=[])]
    assert Visit().dump(visits, many=True) == NestedVisit().dump(visits, many=True)
    assert Visit().dump(visits[0])["department"] == {"id": 3, "name": "内科", "title": "内科 (病区)"}


def _documented(schema) -> dict:
    spec = APISpec("t", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Visit", schema=schema)
    return spec.to_dict()["components"]["schemas"]["Visit"]["properties"]


def test_reference_is_documented_as_its_schema():
    properties = _documented(Visit)
    assert properties == _documented(NestedVisit)
    assert {"$ref": "#/components/schemas/DepartmentRef"} in properties["department"]["anyOf"]
    assert properties["teams"]["items"] == {"$ref": "#/components/schemas/DepartmentRef"}


def test_reference_refuses_a_schema_that_needs_formatting():
    class WithDate(Schema):
        id = fields.Integer()
        opened = fields.Date()

    class Holder(Schema):
        ref = Reference(WithDate)

    with pytest.raises(TypeError, match="'opened' is a Date"):
        Holder().dump(SimpleNamespace(ref=SimpleNamespace(id=1, opened=None)))
