"""`python -m engine.worker [--model ID|DIR] [--sam-model ID|DIR] [--device D] [--precision P]`

Before anything else is imported, file descriptor 1 is kept for protocol lines alone and pointed at
stderr, so that a library printing to stdout (or writing to fd 1 from C) cannot break the protocol.
Logs and Python warnings go to stderr and to a log file (`--log-file`, default: the user log folder).
"""

from __future__ import annotations

import os
import sys

NICENESS = 5  # below the window: a busy engine on all cores must not make playback or the UI stutter


def main(argv: list[str] | None = None) -> int:
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if hasattr(os, "nice"):
        os.nice(NICENESS)

    import argparse
    import logging
    import logging.handlers
    from pathlib import Path

    import platformdirs

    from engine.worker.server import Worker
    from engine.worker.state import Settings

    parser = argparse.ArgumentParser(prog="python -m engine.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="InternVideo2.5 folder or Hub id (default: the published 8B)")
    parser.add_argument("--revision", help="Hub commit of --model")
    parser.add_argument("--sam-model", help="SAM 2.1 folder or Hub id (default: facebook/sam2.1-hiera-tiny)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--precision", choices=("auto", "bf16", "fp16", "fp32", "int8", "nf4"), default="auto"
    )
    parser.add_argument("--log-file", type=Path, help="default: worker.log in the user log folder")
    args = parser.parse_args(argv)

    log_path = (
        args.log_file
        or Path(
            os.environ.get("SCENESCOPE_LOG_DIR") or platformdirs.user_log_dir("scenescope", appauthor=False)
        )
        / "worker.log"
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_path, maxBytes=5 << 20, backupCount=3))
    except OSError as e:
        print(f"worker: cannot write the log file {log_path} ({e}); logging to stderr only", file=sys.stderr)
        log_path = None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers
    )
    logging.captureWarnings(True)

    settings = Settings(
        internvideo=args.model,
        revision=args.revision,
        sam2=args.sam_model,
        device=args.device,
        precision=args.precision,
    )
    worker = Worker(protocol_out, settings, str(log_path) if log_path else None)
    logging.getLogger("engine.worker").info("worker %d ready (%s)", os.getpid(), settings.to_dict())
    return worker.serve(sys.stdin.buffer)


if __name__ == "__main__":
    sys.exit(main())
