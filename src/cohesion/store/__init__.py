"""Stores."""
from cohesion.store.warehouse import Warehouse

__all__ = ["Warehouse"]
