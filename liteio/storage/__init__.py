"""Storage: one drive per ``StorageAPI``: local files, health and fault wrappers."""
