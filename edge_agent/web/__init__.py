"""The local status page: ``bearing-agent web``, read-only from the journal (see docs/status_page.md).

:mod:`edge_agent.web.api` turns the journal into the page's JSON;
:mod:`edge_agent.web.server` serves it with the page's own files (``static/``).
Standard library only: no numpy, no framework.
"""
