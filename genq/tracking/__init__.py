"""Result records (atomic JSON), sample grids, wandb logging.

Exports load lazily (genq._lazy): the CLI reads and writes records without torch."""

from genq._lazy import lazy_exports

_EXPORTS = {"image_grid": "grids", "paired_grid": "grids", "save_grid": "grids", "RESULT_FILE": "record",
            "find_records": "record", "read_record": "record", "write_json_atomic": "record"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["write_json_atomic", "read_record", "find_records", "RESULT_FILE", "image_grid",
           "paired_grid", "save_grid"]
