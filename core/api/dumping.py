"""Serialising API answers: marshmallow's rules without its per-field indirection.

``Schema.dump`` reaches each value through four calls (``Field.serialize`` → ``get_value`` →
``Schema.get_attribute`` → ``utils.get_value``) before the field formats it. A page of 20 patients
has some 500 values, and that walk cost more than the rest of the request's Python. :func:`dump`
reads an object's attributes directly and hands each value to the field's own ``_serialize``,
so the output is the one ``Schema.dump`` gives (``tests/test_api_dumping.py`` holds the two side
by side). It falls back to ``Schema.dump`` whenever a shortcut could differ: dump hooks, a custom
``get_attribute``, ``dict``-like objects (marshmallow reads keys before attributes), dotted
attributes, fields with their own ``serialize`` or ``get_value``.
"""
from __future__ import annotations

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP

_FIELD_SERIALIZE = fields.Field.serialize
_FIELD_GET_VALUE = fields.Field.get_value
_SCHEMA_GET_ATTRIBUTE = Schema.get_attribute
_PLAN_ATTRIBUTE = "_hcrm_dump_plan"

# How one field is written: (output key, field name, attribute, field, reads the attribute directly).
_Step = tuple[str, str, str, fields.Field, bool]


def _direct(name: str, field: fields.Field) -> bool:
    cls = type(field)
    return (field._CHECK_ATTRIBUTE and cls.serialize is _FIELD_SERIALIZE and cls.get_value is _FIELD_GET_VALUE
            and "." not in (field.attribute or name))


def _plan(schema: Schema) -> tuple[_Step, ...] | None:
    """The steps for ``schema``, or None when only ``Schema.dump`` is right for it."""
    try:
        return schema.__dict__[_PLAN_ATTRIBUTE]
    except KeyError:
        pass
    plan = None
    if (not schema._hooks[PRE_DUMP] and not schema._hooks[POST_DUMP] and schema.dict_class is dict
            and type(schema).get_attribute is _SCHEMA_GET_ATTRIBUTE):
        plan = tuple((field.data_key if field.data_key is not None else name, name, field.attribute or name,
                      field, _direct(name, field))
                     for name, field in schema.dump_fields.items())
    schema.__dict__[_PLAN_ATTRIBUTE] = plan  # a schema's fields are fixed once it is built
    return plan


def _row(plan: tuple[_Step, ...], schema: Schema, obj) -> dict:
    out = {}
    for key, name, attribute, field, direct in plan:
        if not field._CHECK_ATTRIBUTE:  # Method, Function, Constant: they read the object themselves
            out[key] = field._serialize(None, name, obj)
            continue
        if not direct:
            value = field.serialize(name, obj, accessor=schema.get_attribute)
            if value is not missing:
                out[key] = value
            continue
        value = getattr(obj, attribute, missing)
        if value is missing:
            default = field.dump_default
            value = default() if callable(default) else default
            if value is missing:
                continue
        out[key] = field._serialize(value, name, obj)
    return out


def dump(schema: Schema, obj, *, many: bool = False):
    """What ``schema.dump(obj, many=many)`` returns, computed faster for plain objects."""
    plan = _plan(schema)
    if plan is None:
        return schema.dump(obj, many=many)
    if many:
        if obj is None:
            return schema.dump(obj, many=True)
        return [schema.dump(item, many=False) if hasattr(type(item), "__getitem__") else _row(plan, schema, item)
                for item in obj]
    if obj is None or hasattr(type(obj), "__getitem__"):
        return schema.dump(obj, many=False)
    return _row(plan, schema, obj)
