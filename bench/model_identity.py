"""What keying caches by model content costs: the first hash of the weights, and every load after it.

    python bench/model_identity.py                  # 4 generated shards of 1 GiB (as the 8B has 4 shards)
    python bench/model_identity.py --gib 2 --shards 4
    python bench/model_identity.py MODEL_DIR        # the shards of a real model folder

The first time, `engine.cache.content_digests` reads every byte (one thread per shard); it runs twice
from a cold page cache (this file's pages dropped with posix_fadvise, no root needed) and twice warm, in
a fresh cache folder each time. Then the remembered digests are looked up again (a stat per shard).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def drop_from_page_cache(files: list[Path]) -> None:
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", nargs="?", type=Path, help="a model folder (default: generated shards)")
    parser.add_argument("--gib", type=float, default=1.0, help="size of each generated shard")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=REPO / "bench") as scratch:
        if args.model:
            from engine.models.internvideo.load import shard_files

            files = shard_files(args.model)
        else:
            files = [Path(scratch) / f"shard-{i}.safetensors" for i in range(args.shards)]
            for f in files:
                with f.open("wb") as out:
                    for _ in range(round(args.gib * 1024)):
                        out.write(os.urandom(1 << 20))
        os.environ["SCENESCOPE_CACHE_DIR"] = str(Path(scratch) / "cache")
        from engine import cache

        gib = sum(f.stat().st_size for f in files) / 2**30
        print(f"{len(files)} files, {gib:.1f} GiB, {os.cpu_count()} cores")
        for label in ("cold", "cold", "warm", "warm"):
            for entry in cache.CacheFolder("file_digests").entries(".json"):
                entry.unlink()
            if label == "cold":
                drop_from_page_cache(files)
            else:
                for f in files:
                    f.read_bytes()
            start = time.perf_counter()
            cache.content_digests(files)
            took = time.perf_counter() - start
            print(f"first hash, {label}: {took:6.2f} s   {took / gib:.2f} s/GiB")
        start = time.perf_counter()
        cache.content_digests(files)
        print(f"remembered:        {1000 * (time.perf_counter() - start):6.2f} ms")


if __name__ == "__main__":
    main()
