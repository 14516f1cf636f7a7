"""`make bench`: every measurement for our design and the naive one, side by side.

Each design runs in its own processes (bench/measure.py: socket-level reply, capacity and
database writes; bench/browser.py: Chromium against a production build). Prints one table and
writes it with a plot to bench/results/latest.md and latest.png.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
STEPS = {
    "ours": [25, 50, 100, 200, 300],
    "naive": [25, 50, 100, 200],
    "scaleout": [25, 50, 100, 200],
}
P95_LIMIT_MS = 250
PROFILE_LOAD = 100


def run(module: str, *args: str) -> dict:
    started = time.time()
    print(f"==> {module} {' '.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"{module} {args} failed")
    print(f"    {time.time() - started:.0f} s", flush=True)
    return json.loads(lines[-1])


def capacity(steps: list[dict]) -> int:
    """The largest load with p95 within the limit and nothing lost (0 if none)."""
    ok = [s["load"] for s in steps if s["p95_ms"] <= P95_LIMIT_MS and not s["lost"]]
    return max(ok, default=0)


def figures(m: dict, b: dict) -> dict[str, float]:
    b0, b50, r0 = b["browser_0"], b["browser_50"], m["reply_0"]
    return {
        "websocket payload ÷ reply, empty chat (Chromium, CDP)": b0["payload"],
        "websocket payload ÷ reply, after 50 messages": b50["payload"],
        "TCP bytes ÷ reply, empty chat (deflate)": b0["tcp"],
        "TCP bytes ÷ reply, after 50 messages": b50["tcp"],
        "TCP bytes after 50 messages vs empty, % more": 100 * (b50["tcp"] / b0["tcp"] - 1),
        "chunk→DOM p50 ms, empty chat": b0["p50_ms"],
        "chunk→DOM p95 ms, empty chat": b0["p95_ms"],
        "chunk→DOM max ms, empty chat": b0["max_ms"],
        "chunk→DOM p50 ms, after 50 messages": b50["p50_ms"],
        "chunk→DOM p95 ms, after 50 messages": b50["p95_ms"],
        "chunk→DOM max ms, after 50 messages": b50["max_ms"],
        "first chunk→DOM ms, empty chat": b0["first_ms"],
        "first chunk→DOM ms, after 50 messages": b50["first_ms"],
        "chunk→socket tab p50 ms, empty chat": r0["p50_ms"],
        "chunk→socket tab p95 ms, empty chat": r0["p95_ms"],
        f"concurrent replies with p95 ≤ {P95_LIMIT_MS} ms, none lost": capacity(m["capacity"]),
        "database writes per reply": r0["db_writes"],
    }


def targets(m: dict) -> dict[str, str]:
    seconds = m["reply_0"]["seconds"]
    return {
        "websocket payload ÷ reply, empty chat (Chromium, CDP)": "≤ 5",
        "websocket payload ÷ reply, after 50 messages": "≤ 5",
        "TCP bytes ÷ reply, empty chat (deflate)": "≤ 1.5",
        "TCP bytes ÷ reply, after 50 messages": "≤ 1.5",
        "TCP bytes after 50 messages vs empty, % more": "≤ 5",
        "chunk→DOM p50 ms, empty chat": "≤ 40",
        "chunk→DOM p95 ms, empty chat": "≤ 100",
        "chunk→DOM p50 ms, after 50 messages": "≤ 40",
        "chunk→DOM p95 ms, after 50 messages": "≤ 100",
        "first chunk→DOM ms, empty chat": "≤ 30",
        "first chunk→DOM ms, after 50 messages": "≤ 30",
        f"concurrent replies with p95 ≤ {P95_LIMIT_MS} ms, none lost": "≥ 300",
        "database writes per reply": f"≤ {seconds + 3:.1f} ({seconds:.1f} s streamed + 3)",
    }


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(ours: dict, naive: dict, ours_b: dict, naive_b: dict, scaled: dict) -> str:
    mine, theirs, goal = figures(ours, ours_b), figures(naive, naive_b), targets(ours)
    lines = [
        "| figure | target | ours | naive | ours/naive |",
        "|---|---|---:|---:|---:|",
    ]
    for name, value in mine.items():
        other = theirs[name]
        ratio = f"{value / other:.2g}" if other and "writes" not in name else "n/a"
        shown = fmt(other) if "writes" not in name else "n/a (no DB)"
        lines.append(f"| {name} | {goal.get(name, '')} | {fmt(value)} | {shown} | {ratio} |")
    lines.append(
        f"| same, 2 workers on Redis and PostgreSQL (`make serve`) | | "
        f"{capacity(scaled['capacity'])} | n/a | |"
    )
    lines += [
        "",
        "Capacity steps: one backend worker (uvicorn) alone in its process, state in memory "
        "and SQLite; or two such workers sharing Redis (state, live channels) and PostgreSQL, "
        "the tabs taking them in turn. The model server (bench/load_model.py: 50 chunks/s per "
        "reply, 1,000 chunks each) in a process of its own, the socket-level tabs in another; "
        "once every page is open and the worker quiet, the tabs send their questions 30 a "
        "second. Latency: every chunk of every reply, from the model server's write to the "
        "tab's receipt. CPU per 1,000 model chunks, of the backend processes, the tabs and "
        "the model server:",
        "",
        "| design | concurrent replies | p50 ms | p95 ms | lost or garbled | "
        "backend CPU s | tabs CPU s | model CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for design in (ours, naive, scaled):
        for s in design["capacity"]:
            lines.append(
                f"| {design['design']} | {s['load']} | {fmt(s['p50_ms'])} | "
                f"{fmt(s['p95_ms'])} | {s['lost']} | {s['cpu_per_1000']:.3f} | "
                f"{s['client_cpu_per_1000']:.3f} | {s.get('model_cpu_per_1000', 0):.3f} |"
            )
    return "\n".join(lines)


def profile_table(result: dict) -> str:
    """bench/profile.py's stages as a Markdown table."""
    step = result["step"]
    lines = [
        f"One worker, {result['load']} replies streaming (p50/p95 {fmt(step['p50_ms'])}/"
        f"{fmt(step['p95_ms'])} ms, {step['lost']} lost), py-spy sampling it for 8 s of "
        f"steady streaming: {result['per_chunk_us']:.0f} µs of backend CPU per model chunk "
        "(the step's whole CPU, sends included, over its chunks), shared out by the samples:",
        "",
        "| stage of a chunk's path | µs per chunk |",
        "|---|---:|",
    ]
    for stage, us in result["stages_us"].items():
        lines.append(f"| {stage} | {us:.1f} |")
    return "\n".join(lines)


SIGN_IN_ROWS = {
    "alone": "reply alone",
    "sign_ins": "beside 10 sign-ins/s, bcrypt in its thread (ours)",
    "sign_ins_on_loop": "beside 10 sign-ins in 1 s, bcrypt on the event loop (reflex-local-auth)",
}


def sign_in_table(result: dict) -> str:
    """bench/signins.py's figures as a Markdown table."""
    lines = [
        "| one reply streaming (300 chunks at 100/s) | chunk p50 ms | p95 ms | max ms | "
        "sign-ins sent | bcrypt checks | refused busy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in SIGN_IN_ROWS.items():
        r = result[key]
        busy = r["sign_ins_answered"] - r["bcrypt_checks"]
        lines.append(
            f"| {label} | {r['p50_ms']:,.0f} | {r['p95_ms']:,.0f} | {r['max_ms']:,.0f} | "
            f"{r['sign_ins_sent']} | {r['bcrypt_checks']} | {max(busy, 0)} |"
        )
    return "\n".join(lines)


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"Reflex {version('reflex')}, "
        f"{platform.system()} {platform.release()}"
    )


def plot(ours: dict, naive: dict, ours_b: dict, naive_b: dict, scaled: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (wire, load) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = ["payload\nempty", "payload\n50 earlier", "TCP\nempty", "TCP\n50 earlier"]
    for offset, (name, b) in zip((-0.2, 0.2), (("ours", ours_b), ("naive", naive_b)), strict=True):
        values = [
            b["browser_0"]["payload"],
            b["browser_50"]["payload"],
            b["browser_0"]["tcp"],
            b["browser_50"]["tcp"],
        ]
        wire.bar([i + offset for i in range(4)], values, width=0.4, label=name)
    wire.set_xticks(range(4), labels)
    wire.set_yscale("log")
    wire.set_ylabel("bytes ÷ reply size (4,000)")
    wire.set_title("Wire bytes for one reply (Chromium)")
    wire.axhline(1.5, ls=":", c="gray")
    wire.legend()
    for d in (ours, naive, scaled):
        steps = d["capacity"]
        load.plot([s["load"] for s in steps], [s["p95_ms"] for s in steps], "o-", label=d["design"])
    load.axhline(P95_LIMIT_MS, ls=":", c="gray", label=f"target {P95_LIMIT_MS} ms")
    load.set_yscale("log")
    load.set_xlabel("concurrent streaming replies")
    load.set_ylabel("p95 chunk latency, ms")
    load.set_title("Capacity")
    load.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_signins(signins: dict) -> None:
    """Also on its own (`python bench/run.py signins` runs just this step)."""
    (RESULTS / "signins.md").write_text(
        f"# Sign-ins beside a streaming reply, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f"\n\nMachine: {machine()}. `python -m bench.signins`, a step of `make bench`: one "
        "backend worker; the reply's tab, the ten sign-in tabs and the model server in the "
        f"same process.\n\n{sign_in_table(signins)}\n\nRaw: `{json.dumps(signins)}`\n"
    )


def main() -> None:
    if sys.argv[1:] == ["signins"]:
        RESULTS.mkdir(exist_ok=True)
        write_signins(run("bench.signins"))
        print((RESULTS / "signins.md").read_text())
        return
    started = time.time()
    ours_b, naive_b = run("bench.browser", "ours"), run("bench.browser", "naive")
    ours = run("bench.measure", "ours", *map(str, STEPS["ours"]))
    naive = run("bench.measure", "naive", *map(str, STEPS["naive"]))
    scaled = run("bench.scaleout", *map(str, STEPS["scaleout"]))
    profiled = run("bench.profile", str(PROFILE_LOAD))
    signins = run("bench.signins")
    text = table(ours, naive, ours_b, naive_b, scaled)
    report = (
        f"# make bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"Machine: {machine()}. Whole run {time.time() - started:.0f} s.\n\n"
        "A 4,000-character reply as 1,000 chunks of 4 at 100/s (scripted model server); "
        "'after 50 messages' = 50 earlier messages of 500 characters.\n\n"
        f"{text}\n\n![plot](latest.png)\n\n"
        "Where a chunk's microseconds go (bench/profile.py):\n\n"
        f"{profile_table(profiled)}\n\n"
        "Sign-ins beside a streaming reply, on the same backend worker (bench/signins.py):\n\n"
        f"{sign_in_table(signins)}\n\n"
        f"Raw: `{json.dumps({'ours': ours, 'naive': naive, 'ours_browser': ours_b, 'naive_browser': naive_b, 'scaleout': scaled, 'profile': profiled, 'signins': signins})}`\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    plot(ours, naive, ours_b, naive_b, scaled, RESULTS / "latest.png")
    write_signins(signins)
    print(report.split("Raw:")[0])
    print(f"written to {RESULTS / 'latest.md'} and latest.png")


if __name__ == "__main__":
    main()
