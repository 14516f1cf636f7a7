"""A reply streaming while 10 sign-ins a second run on the same backend worker:
`python -m bench.signins`. Prints one JSON object on its last line.

Three runs of the same reply (300 chunks of 4 characters at 100/s) to a socket-level tab:
alone; beside 10 sign-ins a second from ten other tabs (each one bcrypt check, in a worker
thread, as chatstream/accounts.py does); and, for comparison, beside the same sign-ins with
the check made on the event loop, as reflex-local-auth's own `LoginState.on_submit` does.
Latency is from the model server's send of a chunk to the tab's receipt of it (one clock).
The sign-ins give a wrong password (a failure costs the same bcrypt check as a success, and
leaves the tab where it is); the throttle's limits are lifted for the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import time

os.environ["CHATSTREAM_SIGNIN_ACCOUNT_FAILURES"] = "1000000"  # before the app reads them
os.environ["CHATSTREAM_SIGNIN_CLIENT_FAILURES"] = "1000000"

import tests.conftest  # noqa: E402, F401  (a throw-away SQLite database, migrated to head)
from bench.harness import backend, model_server, reply_text  # noqa: E402
from bench.tabs import Watch, latencies, ours_on_delta  # noqa: E402
from tests.fake_openai import Reply, words  # noqa: E402
from tests.reflex_client import ReflexTab, handler_name  # noqa: E402

REPLY = reply_text(1200)
RATE = 10  # sign-ins per second
TABS = 10  # each signs in once a second


async def _on_the_loop(function, *args):
    """`accounts._in_thread`'s stand-in for the comparison run: the call blocks the loop."""
    return function(*args)


async def sign_ins(tabs: list[ReflexTab], username: str, stop: asyncio.Event, seconds: float):
    """Send RATE sign-ins a second until `stop` or for `seconds`; how many were sent."""
    from chatstream.state.auth import SignInState

    name, sent, started = handler_name(SignInState, "sign_in"), 0, time.monotonic()
    form = {"username": username, "password": "not the password"}
    while not stop.is_set() and time.monotonic() - started < seconds:
        await tabs[sent % TABS].send(name, form_data=form)
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / RATE - time.monotonic()))
    return sent


def answered(tabs: list[ReflexTab]) -> int:
    return sum(1 for tab in tabs for event in tab.events if event.get("name") == "_set_value")


async def one_reply(url: str, model, label: str, load_seconds: float = 0.0) -> dict:
    """The reply's chunk latency, with sign-ins beside it for its first `load_seconds`."""
    import bcrypt

    from chatstream import accounts
    from chatstream.state.chat import ChatState
    from tests.factories import make_user, sign_in

    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    watch = Watch()
    tab = ReflexTab(url, local_storage={"_auth_token": token}, on_delta=ours_on_delta(watch))
    await tab.open("/")
    marker = f"<bench sign-ins {label}>"
    model.on(marker, Reply(chunks=words(REPLY, 4), delay=0.01))
    others = [ReflexTab(url) for _ in range(TABS if load_seconds else 0)]
    await asyncio.gather(*(other.open("/login") for other in others))
    checks, check = [0], bcrypt.checkpw

    def counted(*args):
        checks[0] += 1
        return check(*args)

    bcrypt.checkpw, stop = counted, asyncio.Event()
    await tab.send(handler_name(ChatState, "send"), form_data={"text": f"hello {marker}"})
    async with asyncio.timeout(30):  # the sign-ins start once the reply streams
        while not watch.text:
            await asyncio.sleep(0.01)
    load = asyncio.create_task(sign_ins(others, user.username, stop, load_seconds))
    async with asyncio.timeout(60):
        while watch.text != REPLY:
            await asyncio.sleep(0.05)
    stop.set()
    sent = await load
    while accounts._waiting:  # the next run starts with no sign-in left over
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    bcrypt.checkpw = check
    await asyncio.gather(*(t.close() for t in [tab, *others]))
    request = model.request_for(marker)
    lat = latencies(request.sent, watch.seen)
    seconds = request.sent[-1][0] - request.sent[0][0]
    return {
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * statistics.quantiles(lat, n=20)[-1],
        "max_ms": 1000 * max(lat),
        "seconds": seconds,
        "sign_ins_sent": sent,
        "sign_ins_answered": answered(others),
        "bcrypt_checks": checks[0],
    }


async def measure(url: str, model) -> dict:
    from chatstream import accounts

    result = {"alone": await one_reply(url, model, "alone")}
    result["sign_ins"] = await one_reply(url, model, "thread", load_seconds=60)
    threaded = accounts._in_thread
    accounts._in_thread = _on_the_loop
    try:
        result["sign_ins_on_loop"] = await one_reply(url, model, "loop", load_seconds=1.0)
    finally:
        accounts._in_thread = threaded
    for name, figures in result.items():
        print(name, figures, file=sys.stderr, flush=True)
    return result


def main() -> None:
    with model_server() as model, backend("ours") as url:
        result = asyncio.run(measure(url, model))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
