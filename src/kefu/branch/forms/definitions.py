"""Form definitions, one YAML file each in ``definitions/``: adding a form is adding a file.

A field has a ``type`` that names its validator (``validation.py``); ``personal`` fields are
masked on the teller's page (every value is encrypted at rest whatever the flag)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from kefu.branch.services import SERVICES

FieldType = Literal["text", "id_number", "mobile", "card", "amount", "choice"]


class FormField(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(pattern=r"^[a-z_]+$")
    label: str
    type: FieldType
    required: bool = True
    personal: bool = False
    max_length: int = Field(default=60, ge=1, le=500)
    max_value: float | None = None
    choices: dict[str, str] = Field(default_factory=dict)


class FormDefinition(BaseModel):
    model_config = {"extra": "forbid"}

    kind: str = Field(pattern=r"^[a-z_]+$")
    title: str
    title_en: str
    service: str  # the queue a ticket taken with the form joins
    fields: list[FormField]

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)


@cache
def definitions() -> dict[str, FormDefinition]:
    found: dict[str, FormDefinition] = {}
    for entry in sorted(resources.files(__package__).joinpath("definitions").iterdir(),
                        key=lambda e: e.name):  # fmt: skip
        if not entry.name.endswith(".yaml"):
            continue
        form = FormDefinition.model_validate(yaml.safe_load(entry.read_text(encoding="utf-8")))
        if form.service not in SERVICES:
            raise ValueError(f"{entry.name}: unknown service {form.service!r}")
        # The teller retrieves a form by ID number: every form must ask for one.
        if form.field("id_number") is None:
            raise ValueError(f"{entry.name}: a form needs an id_number field")
        found[form.kind] = form
    return found


def definition(kind: str) -> FormDefinition:
    try:
        return definitions()[kind]
    except KeyError:
        raise ValueError(f"没有这种表单 {kind!r}") from None
