"""One design's backend alone in its own process, for the capacity steps: `python -m
bench.serve ours|naive` prints its URL, then serves until its stdin closes. The model server's
URL and the database come from the environment of the process that starts it."""

from __future__ import annotations

import sys

from bench.harness import backend


def main() -> None:
    with backend(sys.argv[1]) as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
