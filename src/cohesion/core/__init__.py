"""The core of Cohésion: one object that every interface calls.

:class:`Observatory` answers the questions of the command line, the web pages, the HTTP
API and Python users alike — territories, values of a level, portraits, comparisons,
exports, analyses, the baromètre, QPV location — so that the same request gives the
same figures everywhere. The interfaces parse input and render output, nothing more.
"""

from cohesion.core.observatory import Observatory

__all__ = ["Observatory"]
