"""Save-time rules per field, run by ``full_clean()`` and by the API serializers.

A model lists ``save_rules`` (field name -> validator from integrations.validators).
``full_clean()`` runs them with the field checks, so the admin, any form and any future
import that calls it get the same errors, each on its field; the API's serializers
attach the same validators to their fields (integrations.api.serializers.base).

They are not ``Field(validators=...)`` on purpose: those are written into migrations,
so each tightening of a rule would need a migration that changes nothing in the
database. Like field validators, a rule judges a value when it is saved through a
form or the API; rows stored before a rule existed load and run as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models

from integrations.validators import Validator


class SaveRulesModel(models.Model):
    """Abstract base: ``clean_fields`` also runs each field's save rule."""

    save_rules: ClassVar[Mapping[str, Validator]] = {}

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        skipped = set(exclude or ()) | set(errors)  # a field the form does not show, or bad
        for name in self.save_rules:
            if name not in skipped and (refused := self.save_rule_error(name)) is not None:
                errors[name] = refused.error_list
        if errors:
            raise ValidationError(errors)

    def save_rule_error(self, name: str) -> ValidationError | None:
        """The error of field ``name``'s save rule, or None.

        A blank value (None, or only spaces, which forms strip) has no rule: whether it
        may be blank is the field's own check, or the model's clean().
        """
        rule, value = self.save_rules.get(name), getattr(self, name, None)
        if rule is None or value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            rule(value)
        except ValidationError as error:
            return error
        return None
