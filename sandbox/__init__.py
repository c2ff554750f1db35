"""A sandbox customer API: the integration guide's contract, with fault knobs.

It runs as its own server (``python -m sandbox``, default http://127.0.0.1:8001), never inside
the portal. Tests and demos start one in-process with :func:`start_sandbox`.
"""

from sandbox.server import RunningSandbox, start_sandbox

__all__ = ["RunningSandbox", "start_sandbox"]
