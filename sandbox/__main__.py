"""``python -m sandbox``: run the sandbox upstream until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from .server import SandboxServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--generation-seconds", type=float, default=8.0)
    parser.add_argument(
        "--useapi-generation-seconds",
        type=float,
        default=None,
        help="useapi flavour's generation time (default: --generation-seconds)",
    )
    parser.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=1.0,
        help="seconds between heartbeats of the useapi agent-create stream",
    )
    parser.add_argument("--video-url-ttl", type=float, default=9 * 3600.0, help="seconds")
    parser.add_argument("--public-url", default=None, help="origin used in video/download URLs")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        help="chaos mode: the share of calls to fault transiently, 0..1 (default 0: off)",
    )
    parser.add_argument("--chaos-seed", type=int, default=0, help="chaos mode's seed")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = SandboxServer(
        host=args.host,
        port=args.port,
        generation_seconds=args.generation_seconds,
        video_url_ttl=args.video_url_ttl,
        public_url=args.public_url,
        quiet=args.quiet,
        useapi_generation_seconds=args.useapi_generation_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        chaos=args.chaos,
        chaos_seed=args.chaos_seed,
    )
    stop = threading.Event()
    # Signal handlers run in the main thread, which only waits, so setting an Event is enough.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(f"MiniMax sandbox listening on {server.base_url}", flush=True)
    print(f"useapi.net flavour under {server.base_url}/v1/minimax/", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
