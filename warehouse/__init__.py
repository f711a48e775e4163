"""The warehouse owns every byte of SQL in Oyster."""

from warehouse.runs import Warehouse
from warehouse.store import (
    DEFAULT_PATH,
    EXPORT_FORMATS,
    LATEST_VERSION,
    QueryResult,
    Store,
    WarehouseError,
    default_path,
    resolve_path,
)
from warehouse.trajectory_rows import TRAJECTORY_TABLES

__all__ = [
    "DEFAULT_PATH",
    "EXPORT_FORMATS",
    "LATEST_VERSION",
    "TRAJECTORY_TABLES",
    "QueryResult",
    "Store",
    "Warehouse",
    "WarehouseError",
    "default_path",
    "resolve_path",
]
