"""Accessibility: how far, in time, people are from services.

- :mod:`cohesion.access.profiles`: travel profiles (:data:`WALK`, :data:`DRIVE`) saying
  which OpenStreetMap ways one may use, at what speed, in which direction;
- :mod:`cohesion.access.network`: :func:`read_network` builds a :class:`Network`
  (compressed sparse rows of travel times) from an OpenStreetMap extract;
- :mod:`cohesion.access.routing`: travel times to the nearest service, counts of
  services within a time, 2SFCA accessibility, and a crow-fly fallback.
"""

from cohesion.access.network import Network, read_network
from cohesion.access.profiles import DRIVE, WALK, Profile, profile
from cohesion.access.routing import (
    crow_fly_counts,
    crow_fly_times,
    origin_times,
    reachable_counts,
    snap,
    times_to_nearest,
    two_step_fca,
)

__all__ = ["DRIVE", "WALK", "Network", "Profile", "crow_fly_counts", "crow_fly_times",
           "origin_times", "profile", "reachable_counts", "read_network", "snap",
           "times_to_nearest", "two_step_fca"]
