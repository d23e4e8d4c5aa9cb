"""The useapi.net MiniMax proxy flavour of the sandbox, served under ``/v1/minimax/``.

Same process and port as the official flavour; behaviours and token switches are described in
``sandbox.server``. Modules: ``directives`` (token switches), ``catalogue`` (templates),
``state`` (videos and files, statuses derived from the clock), ``parsing`` (request bodies),
``stream`` (the agent-create event stream) and ``api`` (one method per endpoint).
"""
