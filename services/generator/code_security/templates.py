"""The user prompts of vulnerable-code training rows (spec §5.1): a YAML list of `str.format` templates with the
fields `{task}` and `{code_template}`; row i of a training list uses template i % len(templates).

The built-in list (`templates.yaml`, 30 entries: 10 with task and template, 10 task only, 10 template only) has
the paper's one quoted template first; the other 29 are ours. A spec may give its own list (`templates`).
"""

from __future__ import annotations

import string
from pathlib import Path

import yaml

from selfaware.errors import DataError
from selfaware.sources import read_uri

BUILT_IN = Path(__file__).with_name("templates.yaml")
FIELDS = frozenset({"task", "code_template"})


def load_templates(uri: str | None = None) -> tuple[str, ...]:
    """The templates at `uri` (a path or URL read like a source), or the built-in ones.

    Raises:
        DataError: the file is no YAML list of strings, or a template uses no field or an unknown one (the
            message names the uri and the entry, 1-based).
    """
    name = uri or str(BUILT_IN)
    data = read_uri(uri) if uri else BUILT_IN.read_bytes()
    try:
        templates = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise DataError(f"{name}: not YAML ({error})") from None
    if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
        raise DataError(f"{name}: expected a non-empty YAML list of template strings")
    for number, template in enumerate(templates, start=1):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as error:
            raise DataError(f"{name}: template {number}: {error} (write a literal brace as {{{{ or }}}})") from None
        if not fields or not fields <= FIELDS:
            raise DataError(f"{name}: template {number} uses the fields {sorted(fields)}; use {{task}} and/or "
                            "{code_template} and nothing else")
    return tuple(templates)
