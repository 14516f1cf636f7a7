"""One design's backend alone in its own process, for the capacity steps: `python -m
bench.serve ours|naive` prints its URL, then serves until its stdin closes. The model server's
URL and the database come from the environment of the process that starts it.

With BENCH_PROFILE=<file>, the backend runs under yappi (CPU clock, every thread) and the
functions' costs are written to <file> as text when it ends (bench/profile.py reads it).
"""

from __future__ import annotations

import os
import sys

from bench.harness import backend


def main() -> None:
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start(builtins=False, profile_threads=True)
    with backend(sys.argv[1]) as url:
        print(url, flush=True)
        sys.stdin.read()
        if profile:
            yappi.stop()
            with open(profile, "w") as out:
                stats = yappi.get_func_stats()
                stats.sort("ttot")
                for f in stats:
                    out.write(
                        f"{f.ttot:.6f}\t{f.tsub:.6f}\t{f.ncall}\t{f.module}:{f.lineno}\t{f.name}\n"
                    )


if __name__ == "__main__":
    main()
