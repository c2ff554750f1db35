"""``python -m sandbox``: serve the sandbox customer API on SANDBOX_HOST:SANDBOX_PORT.

Configuration comes from the environment; see :mod:`sandbox.config` for every variable.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from sandbox.config import ConfigError, SandboxConfig
from sandbox.faults import Faults, KnobError
from sandbox.server import serve


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C, so containers stop the server cleanly."""
    raise KeyboardInterrupt


def main() -> int:
    """Read the configuration, fail fast on a bad one, then serve until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = SandboxConfig.from_env()
        Faults.from_config(config)  # check SANDBOX_FAULTS now rather than on first use
    except (ConfigError, KnobError) as error:
        logging.getLogger("sandbox").error("bad configuration: %s", error)
        return 2
    signal.signal(signal.SIGTERM, interrupt)
    serve(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
