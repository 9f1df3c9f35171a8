"""Base serializers for every API serializer: DRF's, with fields built once per class.

DRF builds a serializer's fields anew for every instance: it deep-copies the
declared fields (each copy runs the field's ``__init__`` again, validators and
all) and, for a ``ModelSerializer``, maps every model field from the model's
metadata. For a plain send that was the largest piece of the request's own CPU
(py-spy on a gunicorn worker under ``bench/send_throughput.py``), and on a
``ModelSerializer`` answer it was more than the rest of the view.

Here each class builds its fields once (``super().get_fields()``, so
everything DRF decides stays DRF's) and keeps them unbound as a template. An
instance gets copies of the template, bound as usual:

- a plain leaf field (``LEAF_FIELDS``) or a nested serializer (one object,
  not ``many``) is copied shallowly: its state after ``__init__`` is never
  changed, binding writes the copy's own name, parent, label and source, and a
  nested serializer builds its own fields (from its class's template) on the
  copy when it validates;
- anything else (a list, dict or related field, ``many=True``, or a field
  with a mutable default) is deep-copied, exactly as DRF does.

Only what does not depend on the instance is cached: DRF's ``get_fields``
reads the class, its ``Meta`` and the model, never the data or the context.
A subclass whose fields depend on the request must not use these bases.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import empty

# Fields whose instances hold nothing that a request may change (no child field, no queryset).
LEAF_FIELDS = (
    serializers.BooleanField, serializers.CharField, serializers.ChoiceField, serializers.DateField,
    serializers.DateTimeField, serializers.DecimalField, serializers.DurationField, serializers.FloatField,
    serializers.IntegerField, serializers.ReadOnlyField, serializers.SerializerMethodField, serializers.TimeField,
    serializers.UUIDField,
)
# Subclasses of the above that keep a child or collection of their own.
NOT_LEAF_FIELDS = (serializers.MultipleChoiceField, serializers.FilePathField)


def _copy_for_instance(field: serializers.Field) -> serializers.Field:
    leaf = isinstance(field, LEAF_FIELDS) and not isinstance(field, NOT_LEAF_FIELDS)
    nested = isinstance(field, serializers.Serializer)  # ListSerializer (many=True) is not a Serializer
    if (leaf or nested) and not isinstance(field.default, (list, dict, set)):
        # A shallow copy by hand: copy.copy goes through __reduce_ex__ and the field's own __new__, which
        # cost more than the rest of the copy (the template's __dict__ holds the same _args and _kwargs).
        clone = object.__new__(type(field))
        clone.__dict__.update(field.__dict__)
        clone.__dict__.pop("fields", None)  # a nested serializer builds and binds its own fields
        return clone
    return copy.deepcopy(field)


class FieldsBuiltOnce(serializers.Serializer):
    """Build the fields once per serializer class; give each instance copies (see the module's docstring)."""

    _fields_template: ClassVar[dict[str, serializers.Field]]  # set on each class at its first get_fields

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        template: dict[str, serializers.Field] | None = cls.__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()
            cls._fields_template = template
        return {name: _copy_for_instance(field) for name, field in template.items()}


class Serializer(FieldsBuiltOnce, serializers.Serializer):
    pass


class ModelSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    pass


class QuerySerializer(Serializer):
    """Query parameters validated as sent: an empty value (``?status=``) is a 400 like any invalid one.

    DRF reads a ``QueryDict`` as an HTML form, where an empty optional field counts as absent, so
    ``?status=`` would silently list everything. A plain dict (the last value of each parameter)
    is validated as JSON input is. Unknown parameters are ignored.
    """

    def __init__(self, instance: Any = None, data: Any = empty, **kwargs: Any) -> None:
        if isinstance(data, QueryDict):
            data = data.dict()
        super().__init__(instance, data, **kwargs)
