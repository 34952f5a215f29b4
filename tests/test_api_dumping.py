"""core.api.dumping writes exactly what marshmallow's Schema.dump writes, for every kind of field
and object it may meet, including the cases where it must hand the work back to marshmallow."""
from collections import namedtuple
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump, pre_dump

from core.api.dumping import dump


class TagSchema(Schema):
    name = fields.String()


class RichSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    nickname = fields.String(attribute="alias")
    flag = fields.Boolean(data_key="isFlagged")
    born = fields.Date(allow_none=True)
    seen_at = fields.DateTime()
    amount = fields.Decimal(places=2, as_string=True)
    fallback = fields.String(dump_default="none given")
    computed_default = fields.Integer(dump_default=lambda: 7)
    absent = fields.String()  # neither an attribute nor a default: left out
    shout = fields.Method("_shout")
    length = fields.Function(lambda obj: len(obj.name))
    tag = fields.Nested(TagSchema, allow_none=True)
    tags = fields.Pluck(TagSchema, "name", many=True)
    numbers = fields.List(fields.Integer())
    city = fields.String(attribute="address.city")  # dotted: marshmallow walks it
    secret = fields.String(load_only=True)

    def _shout(self, obj):
        return obj.name.upper()


def _thing(**overrides):
    values = dict(id=3, name="张三", alias="三儿", flag=True, born=date(1990, 5, 1),
                  seen_at=datetime(2026, 5, 1, 8, 30, tzinfo=UTC), amount=Decimal("12.346"),
                  tag=SimpleNamespace(name="VIP"), tags=[SimpleNamespace(name="a"), SimpleNamespace(name="b")],
                  numbers=["1", 2], address=SimpleNamespace(city="武汉"), secret="x")
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.mark.parametrize("schema", [RichSchema(), RichSchema(only=("id", "shout", "tags")),
                                    RichSchema(exclude=("tag", "length"))])
def test_objects_are_written_as_marshmallow_writes_them(schema):
    things = [_thing(), _thing(id=4, name="李四", born=None, tag=None, fallback="given", tags=[])]
    assert dump(schema, things, many=True) == schema.dump(things, many=True)
    assert dump(schema, things[0]) == schema.dump(things[0])
    written = dump(schema, things[0])
    if "isFlagged" in schema.dump_fields or "flag" in schema.dump_fields:
        assert written["isFlagged"] is True and written["amount"] == "12.35" and written["fallback"] == "none given"
        assert "absent" not in written and "secret" not in written and written["city"] == "武汉"


def test_mappings_and_rows_are_read_by_key_as_marshmallow_does():
    schema = RichSchema(only=("id", "name", "nickname"))
    as_dict = {"id": 5, "name": "王五", "alias": "五"}
    Row = namedtuple("Row", "id name alias")
    assert dump(schema, as_dict) == schema.dump(as_dict) == {"id": 5, "name": "王五", "nickname": "五"}
    assert dump(schema, [Row(6, "赵六", None)], many=True) == schema.dump([Row(6, "赵六", None)], many=True)
    assert dump(schema, None) == schema.dump(None)


def test_dump_hooks_and_custom_access_are_left_to_marshmallow():
    class Hooked(Schema):
        name = fields.String()

        @pre_dump
        def trim(self, obj, **kwargs):
            return SimpleNamespace(name=obj.name.strip())

        @post_dump
        def stamp(self, data, **kwargs):
            return {**data, "stamped": True}

    class Upper(Schema):
        name = fields.String()

        def get_attribute(self, obj, attr, default):
            return getattr(obj, attr, default).upper()

    class Doubled(fields.Integer):
        def get_value(self, obj, attr, accessor=None, default=None):
            return 2 * super().get_value(obj, attr, accessor, default)

    class WithDoubled(Schema):
        n = fields.Integer()
        twice = Doubled(attribute="n", dump_only=True)

    thing = SimpleNamespace(name="  abc ", n=4)
    assert dump(Hooked(), thing) == Hooked().dump(thing) == {"name": "abc", "stamped": True}
    assert dump(Upper(), thing) == {"name": "  ABC "}
    assert dump(WithDoubled(), thing) == {"n": 4, "twice": 8}


def test_a_failing_field_fails_as_it_would_in_marshmallow():
    schema = RichSchema(only=("id",))
    with pytest.raises(ValueError):
        schema.dump(_thing(id="not a number"))
    with pytest.raises(ValueError):
        dump(schema, _thing(id="not a number"))
