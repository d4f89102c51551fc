"""The web application and HTTP API over one :class:`cohesion.core.Observatory`.

:func:`cohesion.web.app.create_app` takes the core and the settings; every route parses
its input, calls the core and renders the answer.
"""
