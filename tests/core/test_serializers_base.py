"""core.rest.serializers: fields built once per class, each instance with its own bound copies."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
from core.rest.serializers import ModelSerializer, Serializer


class Point(Serializer):
    x = serializers.FloatField()
    label = serializers.CharField(max_length=5, required=False)


class Shape(Serializer):
    name = serializers.CharField(max_length=10)
    point = Point(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    note = serializers.SerializerMethodField()

    def get_note(self, value) -> str:
        return self.context.get("note", "")


def test_each_instance_gets_its_own_bound_fields():
    first, second = Shape(data={}), Shape(data={})
    for name in ("name", "point", "tags", "note"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["name"].field_name == "name" and first.fields["name"].label == "Name"


def test_nested_serializers_bind_their_own_fields_per_instance():
    first, second = Shape(data={}), Shape(data={})
    assert first.fields["point"].fields["x"] is not second.fields["point"].fields["x"]
    assert first.fields["point"].fields["x"].parent is first.fields["point"]
    assert first.fields["point"].root is first


def test_validation_state_does_not_leak_between_instances():
    bad = Shape(data={"name": "x" * 11, "point": {"x": "nope"}, "tags": [1, {}]})
    good = Shape(data={"name": "ok", "point": {"x": 1.5, "label": "a"}, "tags": ["a"]})
    assert not bad.is_valid()
    assert set(bad.errors) == {"name", "point", "tags"} and "x" in bad.errors["point"]
    assert good.is_valid(), good.errors
    assert good.validated_data == {"name": "ok", "point": {"x": 1.5, "label": "a"}, "tags": ["a"]}


def test_context_reaches_method_fields_of_every_instance():
    assert Shape({"name": "a"}, context={"note": "one"}).data["note"] == "one"
    assert Shape({"name": "b"}, context={"note": "two"}).data["note"] == "two"


def test_model_fields_are_built_once_per_class(monkeypatch):
    class Person(ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "email", "role"]

    builds = []
    original = ModelSerializer.build_field

    def counting(self, *args, **kwargs):
        builds.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ModelSerializer, "build_field", counting)
    Person().fields
    Person().fields
    assert builds == ["id", "email", "role"]
    assert Person().fields["email"] is not Person().fields["email"]
