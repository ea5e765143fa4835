"""The model file's JSON Schema and the plain-language messages for what it rejects.

The schema ships at :data:`SCHEMA_PATH`; the parts that depend on which covariance structures
exist (the ``covariance_type`` enum and the nesting depth of ``covariances`` per type) are
generated from the registry by :func:`model_schema`, which is what the loader validates with,
so a registered structure is accepted without editing the schema. A test keeps the shipped
file equal to :func:`model_schema` for the built-in structures.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from ..engine.covariance import covariance_types, get_structure

__all__ = [
    "FIX",
    "FORMAT",
    "SCHEMA_PATH",
    "VERSION",
    "ModelFileError",
    "check_header",
    "check_mode_fields",
    "find_nonfinite",
    "first_schema_error",
    "model_schema",
    "parse_json",
    "schema_message",
]

FORMAT = "gmmcore.model"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "model-v1.schema.json"
FIX = "fix that field, or export the model again with gmmcore.save_model"
# $defs for an array nested 1, 2 or 3 deep (the depth of a structure's covariances).
_DEPTH_REF = {1: "#/$defs/vector", 2: "#/$defs/matrix", 3: "#/$defs/tensor3"}


class ModelFileError(ValueError):
    """A model file (or string) that cannot be loaded; the message names the field, the
    problem and what to do."""


def model_schema() -> dict:
    """The model file's JSON Schema for the covariance structures registered now.

    Returns
    -------
    dict
        The shipped schema with ``properties.covariance_type.enum`` and
        ``$defs.covarianceShapes`` generated from the registry.
    """
    schema = copy.deepcopy(_shipped_schema())
    schema["properties"]["covariance_type"]["enum"] = list(covariance_types())
    shapes = []
    for name in covariance_types():
        depth = len(get_structure(name).expected_shape(2, 3))
        shapes.append(
            {
                "if": {
                    "properties": {"covariance_type": {"const": name}},
                    "required": ["covariance_type"],
                },
                "then": {"properties": {"covariances": {"$ref": _DEPTH_REF[depth]}}},
            }
        )
    schema["$defs"]["covarianceShapes"]["allOf"] = shapes
    return schema


_SHIPPED: dict | None = None
_VALIDATORS: dict = {}


def _shipped_schema() -> dict:
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SHIPPED


def _validator():
    # One validator per set of registered structures (building one checks the schema: ~ms).
    import jsonschema

    key = tuple(covariance_types())
    if key not in _VALIDATORS:
        schema = model_schema()
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATORS[key] = cls(schema)
    return _VALIDATORS[key]


def parse_json(text: str):
    """``json.loads`` that keeps non-finite numbers (NaN, Infinity, 1e999) as markers for
    :func:`find_nonfinite` to report by field."""
    return json.loads(text, parse_float=_parse_float, parse_constant=lambda name: _NonFinite(name))


class _NonFinite:
    def __init__(self, text):
        self.text = text


def _parse_float(text):
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def find_nonfinite(obj, path=""):
    if isinstance(obj, _NonFinite):
        return path, obj.text
    if isinstance(obj, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for p, v in items:
        found = find_nonfinite(v, p)
        if found:
            return found
    return None


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


_JSON_TYPES = {
    "array": "an array",
    "object": "an object",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, _NonFinite) else value.text
    return text if len(text) <= 40 else text[:37] + "..."


def schema_message(error) -> str:
    # Descend into oneOf/anyOf to the most specific failure.
    import jsonschema.exceptions as jse

    while error.context:
        error = jse.best_match(error.context)
    path = _path(error.absolute_path)
    v, val, inst = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = [k for k in val if k not in inst]
        where = "" if path == "(top level)" else f" in '{path}'"
        return f"missing field '{missing[0]}'{where}; add it ({FIX})"
    if v == "additionalProperties":
        extra = sorted(k for k in inst if k not in error.schema.get("properties", {}))
        where = "" if path == "(top level)" else f" in '{path}'"
        return (
            f"unknown field '{extra[0]}'{where}; version 1 files have only the documented "
            f"fields (see docs/model-format.md): remove it"
        )
    if v == "type":
        types = [val] if isinstance(val, str) else list(val)
        want = " or ".join(_JSON_TYPES.get(t, t) for t in types)
        return f"field '{path}' must be {want}, got {_json_type(inst)} ({_short(inst)}); {FIX}"
    if v == "enum":
        if error.absolute_path and error.absolute_path[-1] == "covariance_type":
            return (
                f"unknown covariance type {inst!r} in field 'covariance_type'; it must be "
                f"one of {', '.join(covariance_types())}"
            )
        choices = ", ".join(json.dumps(c) for c in val)
        return f"field '{path}' is {_short(inst)}, not one of {choices}; {FIX}"
    if v == "const":
        return f"field '{path}' must be {json.dumps(val)}, got {_short(inst)}; {FIX}"
    if v == "minItems":
        return f"field '{path}' must have at least {val} item(s), got {len(inst)}; {FIX}"
    if v == "minimum":
        return f"field '{path}' is {inst}, below the minimum {val}; {FIX}"
    if v == "uniqueItems":
        return f"field '{path}' has duplicate entries; give each entry once ({FIX})"
    return f"field '{path}': {error.message}; {FIX}"


def check_header(doc) -> None:
    if not isinstance(doc, dict):
        raise ModelFileError(
            f"a model file must hold a JSON object at the top level, got {_json_type(doc)}; "
            "is this a gmmcore model file (written by gmmcore.save_model)?"
        )
    if "format" not in doc:
        raise ModelFileError(
            "missing field 'format': this is not a gmmcore model file (it must contain "
            f'"format": "{FORMAT}"); pass a file written by gmmcore.save_model'
        )
    if doc["format"] != FORMAT:
        raise ModelFileError(
            f"field 'format' is {_short(doc['format'])}, not \"{FORMAT}\": this is not a "
            "gmmcore model file; pass a file written by gmmcore.save_model"
        )
    version = doc.get("version")
    if "version" not in doc:
        raise ModelFileError(
            f"missing field 'version'; a version {VERSION} file has \"version\": {VERSION} ({FIX})"
        )
    if type(version) is not int:
        raise ModelFileError(
            f"field 'version' must be an integer, got {_json_type(version)} "
            f"({_short(version)}); {FIX}"
        )
    if version != VERSION:
        newer = version > VERSION
        raise ModelFileError(
            f"field 'version' is {version} but this gmmcore reads version {VERSION} only; "
            + (
                "upgrade gmmcore to read this newer file"
                if newer
                else "export the model again with this gmmcore"
            )
        )


_NOT_SEPARATE = ("weights", "means", "covariances", "precisions_cholesky")


def check_mode_fields(doc) -> None:
    """Fields that one mode has and another must not (the schema says so with ``false``
    subschemas, whose errors jsonschema reports without the field's name)."""
    mode = doc.get("mode")
    if mode == "separate":
        extra = [key for key in _NOT_SEPARATE if key in doc]
        if extra:
            raise ModelFileError(
                f"field '{extra[0]}' does not belong in a separate-mode file (each task's "
                "weights, means and covariances are in 'submodels'); remove it, or set 'mode' "
                f"to the mode the file was written for ({FIX})"
            )
    elif mode in ("single", "pooled", "shared") and "submodels" in doc:
        raise ModelFileError(
            f"field 'submodels' belongs in a separate-mode file only, but 'mode' is {mode!r}; "
            f"remove it ({FIX})"
        )


def first_schema_error(doc):
    import jsonschema.exceptions as jse

    errors = list(_validator().iter_errors(doc))
    if not errors:
        return None
    return jse.best_match(errors)
