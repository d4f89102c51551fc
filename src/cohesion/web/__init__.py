"""The web application and HTTP API over one :class:`Observatory`."""

from cohesion.web.observatory import Observatory

__all__ = ["Observatory"]
