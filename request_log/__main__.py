"""`python -m request_log`: the request-log sink (settings from the environment, see
request_log/settings.py). SIGTERM stops it after a last export."""

import logging
import signal
import sys
import threading

from request_log.server import serve
from request_log.settings import SettingsError, from_environment


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = from_environment()
    except SettingsError as error:
        print(f"request_log: {error}", file=sys.stderr)
        return 2

    def stop(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        serve(settings)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "request-log"
    sys.exit(main())
