"""The warehouse owns every byte of SQL in Oyster."""

from warehouse.store import (
    DEFAULT_PATH,
    EXPORT_FORMATS,
    LATEST_VERSION,
    TRAJECTORY_TABLES,
    QueryResult,
    Warehouse,
    WarehouseError,
    default_path,
)

__all__ = [
    "DEFAULT_PATH",
    "EXPORT_FORMATS",
    "LATEST_VERSION",
    "TRAJECTORY_TABLES",
    "QueryResult",
    "Warehouse",
    "WarehouseError",
    "default_path",
]
