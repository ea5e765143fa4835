"""Files: the model file (writer, reader, schema and its messages) and data tables."""

from .model_reader import ModelFileError, from_json, load_model
from .model_writer import save_model, to_json
from .schema import SCHEMA_PATH, model_schema

__all__ = [
    "SCHEMA_PATH",
    "ModelFileError",
    "from_json",
    "load_model",
    "model_schema",
    "save_model",
    "to_json",
]
