"""Admin form fields for lists and mappings, edited one per line instead of as raw JSON text."""

from __future__ import annotations

import json
from typing import Any

from django import forms


class LinesField(forms.Field):
    """A list of strings, one per line (commas also split); a JSON list is still accepted as typed."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "rc-lines"})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return "\n".join(str(v) for v in value or [])

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        text = (value or "").strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Write one value per line (or a JSON list).")
            if not isinstance(parsed, list):
                raise forms.ValidationError("Write one value per line (or a JSON list).")
            return self.to_python(parsed)
        items = [part.strip() for line in text.splitlines() for part in line.split(",")]
        return list(dict.fromkeys(item for item in items if item))


class MappingField(forms.Field):
    """A mapping of names, one ``key = value`` per line; a JSON object is still accepted as typed."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "rc-lines"})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return "\n".join(f"{k} = {v}" for k, v in (value or {}).items())

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return {str(k).strip(): str(v).strip() for k, v in value.items()}
        text = (value or "").strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Write one `name = value` per line (or a JSON object).")
            if not isinstance(parsed, dict):
                raise forms.ValidationError("Write one `name = value` per line (or a JSON object).")
            return self.to_python(parsed)
        out: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise forms.ValidationError(f"Line {number} is not `name = value`: {line.strip()!r}.")
            out[key.strip()] = val.strip()
        return out
