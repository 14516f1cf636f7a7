"""The production server's worker: uvicorn's, on uvloop.

`reflex run --env prod` starts gunicorn with uvicorn's H11 worker, which runs asyncio's own
event loop. This one runs uvloop (and h11, as Reflex's does): one backend worker streaming
300 replies used 0.63–0.74 of a core against 0.77–0.93 on asyncio's loop (bench.profile). The
Makefile names it in GUNICORN_CMD_ARGS, which Reflex passes after its own arguments.
"""

from uvicorn.workers import UvicornH11Worker


class Worker(UvicornH11Worker):
    CONFIG_KWARGS = {"loop": "uvloop", "http": "h11"}
