"""
Run localstripe (a stateful fake Stripe server from PyPI) on a loopback address.

localstripe's own entry point listens on every interface; development and the test
suite only ever need 127.0.0.1, so this starts the same aiohttp app bound to it.
Usage: python -m marketplace.localstripe_server [--host 127.0.0.1] [--port 8420]
"""

import argparse
import logging

from aiohttp import web
from localstripe.server import app, store


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--keep-data", action="store_true", help="Reload the state saved by an earlier run.")
    args = parser.parse_args(argv)
    if args.keep_data:
        store.try_load_from_disk()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
