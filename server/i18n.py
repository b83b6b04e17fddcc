"""Language tags and translated text fields.

A translatable record stores its text in its original ``language`` and keeps other languages in a
``translations`` mapping ``{lang: {field: text}}``; readers ask for a language and fall back to the
original.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import langcodes

from server.errors import BadInput


def language_tag(value: str, *, field: str = "language") -> str:
    """A standard BCP 47 tag, or ``BAD_USER_INPUT`` naming the field."""
    try:
        valid = langcodes.tag_is_valid(value) and langcodes.Language.get(value).is_valid()
    except (ValueError, LookupError):
        valid = False
    if not valid:
        raise BadInput(
            f"'{value}' is not a known language tag; use a code such as 'en', 'sw' or 'pt-BR'.",
            field=field,
        )
    return langcodes.standardize_tag(value)


def translated(
    original: str | None,
    translations: Mapping[str, Mapping[str, str]] | None,
    field: str,
    lang: str | None,
) -> str | None:
    if lang and translations:
        text = translations.get(lang, {}).get(field)
        if text is None and "-" in lang:
            text = translations.get(lang.split("-", 1)[0], {}).get(field)
        if text is not None:
            return text
    return original


def merge_translations(
    current: Mapping[str, Mapping[str, str]] | None,
    lang: str,
    fields: Mapping[str, str | None],
    allowed: Iterable[str],
) -> dict[str, dict[str, str]]:
    """A new mapping with ``fields`` set for ``lang``; a ``None`` or empty value removes it."""
    allowed = set(allowed)
    result = {key: dict(value) for key, value in (current or {}).items()}
    entry = result.setdefault(lang, {})
    for name, text in fields.items():
        if name not in allowed:
            raise BadInput(f"'{name}' cannot be translated.", field=name)
        if text is None or not text.strip():
            entry.pop(name, None)
        else:
            entry[name] = text
    if not entry:
        result.pop(lang)
    return result
