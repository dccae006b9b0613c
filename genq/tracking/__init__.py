"""Result records (atomic JSON), sample grids, wandb logging."""

from genq.tracking.grids import image_grid, paired_grid, save_grid
from genq.tracking.record import RESULT_FILE, find_records, read_record, write_json_atomic

__all__ = ["write_json_atomic", "read_record", "find_records", "RESULT_FILE", "image_grid",
           "paired_grid", "save_grid"]
