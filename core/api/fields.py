"""Marshmallow fields the API toolkit adds."""
from __future__ import annotations

from marshmallow import fields, missing

# Field types whose value, read from a model attribute, is already what JSON carries.
_PLAIN = (fields.Integer, fields.String, fields.Boolean)


class Reference(fields.Nested):
    """A reference to another row, e.g. ``{"id": 3, "name": "内科"}``: documented as its schema
    (the OpenAPI builder sees a ``Nested``), written by reading the schema's attributes directly.

    A list page carries several references per row, and a nested schema pass costs more than
    the rest of the row's fields together. Hence the restriction: the referenced schema may hold
    only Integer, String and Boolean fields without a ``dump_default`` (checked on first use).
    """

    def _pairs(self) -> tuple[tuple[str, str], ...]:
        pairs = self.__dict__.get("_reference_pairs")
        if pairs is None:
            schema = self.schema
            for name, field in schema.dump_fields.items():
                if type(field) not in _PLAIN or field.dump_default is not missing:
                    raise TypeError(f"Reference to {type(schema).__name__}: field '{name}' is a "
                                    f"{type(field).__name__}; use fields.Nested for anything but plain "
                                    "Integer, String and Boolean fields")
            pairs = tuple((field.data_key or name, field.attribute or name)
                          for name, field in schema.dump_fields.items())
            self._reference_pairs = pairs
        return pairs

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        if nested_obj is None:
            return None
        pairs = self._pairs()
        if self.many:
            return [{key: getattr(item, attribute) for key, attribute in pairs} for item in nested_obj]
        return {key: getattr(nested_obj, attribute) for key, attribute in pairs}
