"""Admin form fields for lists and mappings, edited one per line instead of as raw JSON text."""

from __future__ import annotations

import json
from typing import Any

from django import forms


class _TypedTextField(forms.Field):
    """Text typed one item per line, or the same value as JSON (a list or an object) as typed."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "rc-lines"})
    json_type: type = list
    message = ""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return self.render(value or self.json_type())

    def to_python(self, value: Any) -> Any:
        if isinstance(value, self.json_type):
            return self.clean_parsed(value)
        text = (value or "").strip()
        if text.startswith("[" if self.json_type is list else "{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError(self.message)
            if not isinstance(parsed, self.json_type):
                raise forms.ValidationError(self.message)
            return self.clean_parsed(parsed)
        return self.parse_lines(text)

    def render(self, value: Any) -> str:
        raise NotImplementedError

    def clean_parsed(self, value: Any) -> Any:
        raise NotImplementedError

    def parse_lines(self, text: str) -> Any:
        raise NotImplementedError


class LinesField(_TypedTextField):
    """A list of strings, one per line (commas also split); a JSON list is still accepted as typed."""

    json_type = list
    message = "Write one value per line (or a JSON list)."

    def render(self, value: list) -> str:
        return "\n".join(str(v) for v in value)

    def clean_parsed(self, value: list) -> list[str]:
        return [str(v).strip() for v in value if str(v).strip()]

    def parse_lines(self, text: str) -> list[str]:
        items = [part.strip() for line in text.splitlines() for part in line.split(",")]
        return list(dict.fromkeys(item for item in items if item))


class MappingField(_TypedTextField):
    """A mapping of names, one ``key = value`` per line; a JSON object is still accepted as typed."""

    json_type = dict
    message = "Write one `name = value` per line (or a JSON object)."

    def render(self, value: dict) -> str:
        return "\n".join(f"{k} = {v}" for k, v in value.items())

    def clean_parsed(self, value: dict) -> dict[str, str]:
        return {str(k).strip(): str(v).strip() for k, v in value.items()}

    def parse_lines(self, text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise forms.ValidationError(f"Line {number} is not `name = value`: {line.strip()!r}.")
            out[key.strip()] = val.strip()
        return out
