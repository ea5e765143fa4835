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
    "ESTIMATOR_SETTINGS",
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
    "nonfinite_message",
    "parse_json",
    "schema_message",
]

FORMAT = "gmmcore.model"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "model-v1.schema.json"
FIX = "fix that field, or export the model again with gmmcore.save_model"
# The keys of "fit" that are GaussianMixture's settings (a loaded mixture gets them back), in
# the order the writer puts them.
ESTIMATOR_SETTINGS = (
    "random_state",
    "tol",
    "convergence",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
)
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


# Integers longer than this are refused by field (Python's int-string limit would otherwise
# raise a bare ValueError at 4,300 digits, and an int past 1.8e308 cannot become a float).
MAX_INT_DIGITS = 18


def parse_json(text: str):
    """``json.loads`` that keeps non-finite numbers (NaN, Infinity, 1e999) and integers of more
    than :data:`MAX_INT_DIGITS` digits as markers for :func:`find_nonfinite` to report by
    field, and refuses an object with a duplicate key (JSON parsers disagree on which copy
    wins, so a file with two ``"weights"`` means different models to different readers)."""
    return json.loads(
        text,
        parse_float=_parse_float,
        parse_int=_parse_int,
        parse_constant=lambda name: _NonFinite(name),
        object_pairs_hook=_unique_keys,
    )


class _NonFinite:
    def __init__(self, text):
        self.text = text


class _HugeInt(_NonFinite):
    """An integer too long to be a model file's number (kept as text, reported by field)."""


def _parse_float(text):
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _parse_int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _HugeInt(text)
    return int(text)


def _unique_keys(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ModelFileError(
                    f"the model file has the key {_short(key)} twice in one object; JSON "
                    "readers disagree on which copy wins, so give each key once "
                    f"({FIX})"
                )
            seen.add(key)
    return out


def nonfinite_message(path: str, marker) -> str:
    """The loader's message for a marker :func:`find_nonfinite` found at ``path``."""
    if isinstance(marker, _HugeInt):
        digits = len(marker.text.lstrip("-"))
        return (
            f"field '{path}' is an integer with {digits} digits; a model file's numbers are "
            f"below 10**{MAX_INT_DIGITS} in magnitude ({FIX})"
        )
    return (
        f"field '{path}' is {marker.text}, but a model file holds finite numbers only (no NaN "
        f"or infinity); {FIX}"
    )


def find_nonfinite(obj, path=""):
    """The first (path, marker) of a non-finite number or an over-long integer, or None."""
    if isinstance(obj, _NonFinite):
        return path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list, _NonFinite)):
                found = find_nonfinite(v, f"{path}.{k}" if path else str(k))
                if found:
                    return found
    elif isinstance(obj, list):
        # Paths are built only for containers and markers: a plain number costs one check.
        for i, v in enumerate(obj):
            if isinstance(v, (dict, list, _NonFinite)):
                found = find_nonfinite(v, f"{path}[{i}]")
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

    index_maps = getattr(error, "gmm_index_maps", {})
    while error.context:
        error = jse.best_match(error.context)
    path = _path(_real_path(error.absolute_path, index_maps))
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


# -- schema validation at the cost of the file's structure, not its numbers ------------------
#
# jsonschema spends ~30 us per array item: 13 s for a K = 10,000 model and many minutes for a
# long history. What the schema says about a numeric array is only its nesting depth, that its
# items are numbers and that it is not empty, so each array of numbers (uniform depth) is
# validated as its first item per level; shapes and values are checked by the loader with numpy.
# History snapshots then differ only in their scalars, so one representative per distinct
# skeleton is validated (with its own values, and its real index in the error's path).


def _numeric_depth(x) -> int | None:
    """Depth of ``x`` if it is a non-empty array of numbers nested uniformly, else None."""
    if not isinstance(x, list) or not x:
        return None
    if all(type(v) is float or type(v) is int for v in x):
        return 1
    depths = {_numeric_depth(v) for v in x} if all(type(v) is list for v in x) else {None}
    depth = depths.pop() if len(depths) == 1 else None
    return None if depth is None else depth + 1


def _skeleton(x):
    """``x`` with each uniformly nested numeric array cut to its first item per level."""
    if isinstance(x, dict):
        return {k: _skeleton(v) for k, v in x.items()}
    if isinstance(x, list):
        depth = _numeric_depth(x)
        if depth is not None:
            out = x
            for _ in range(depth):
                out = out[0]
            for _ in range(depth):
                out = [out]
            return out
        return [_skeleton(v) for v in x]
    return x


def _shape_key(x):
    """What the schema can tell apart in a snapshot skeleton: types, signs, integer-ness and
    the short strings (phase, event kinds); not the values of numbers or long messages."""
    if isinstance(x, dict):
        return tuple((k, _shape_key(v)) for k, v in x.items())
    if isinstance(x, list):
        return tuple(_shape_key(v) for v in x)
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, (int, float)):
        return (type(x).__name__, x < 0, float(x).is_integer())
    if isinstance(x, str):
        return x if len(x) <= 16 else "<text>"
    return type(x).__name__


def _dedupe_history(part: dict, where: tuple, index_maps: dict) -> None:
    history = part.get("history")
    if not isinstance(history, list) or len(history) < 2:
        return
    reps: dict = {}
    for i, snap in enumerate(history):
        reps.setdefault(_shape_key(snap), i)
    kept = sorted(reps.values())
    part["history"] = [history[i] for i in kept]
    index_maps[where] = kept


def first_schema_error(doc):
    """The most relevant schema error of ``doc`` (its path as in ``doc``), or None."""
    import jsonschema.exceptions as jse

    skeleton = _skeleton(doc)
    index_maps: dict = {}
    if isinstance(skeleton, dict):
        _dedupe_history(skeleton, ("history",), index_maps)
        subs = skeleton.get("submodels")
        if isinstance(subs, dict):
            for name, sub in subs.items():
                if isinstance(sub, dict):
                    _dedupe_history(sub, ("submodels", name, "history"), index_maps)
    errors = list(_validator().iter_errors(skeleton))
    if not errors:
        return None
    error = jse.best_match(errors)
    error.gmm_index_maps = index_maps  # read by schema_message to report real indices
    return error


def _real_path(parts, index_maps: dict) -> list:
    """``parts`` with a deduplicated history's index replaced by the snapshot's real index."""
    parts = list(parts)
    for prefix, kept in index_maps.items():
        n = len(prefix)
        if tuple(parts[:n]) == prefix and len(parts) > n and isinstance(parts[n], int):
            parts[n] = kept[parts[n]]
    return parts
