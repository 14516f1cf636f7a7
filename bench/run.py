"""`make bench`: every measurement for our design and the naive one, side by side.

Each design runs in its own processes (bench/measure.py: socket-level reply, capacity and
database writes; bench/browser.py: Chromium against a production build, and ours against the
dev server too). Prints one table and writes it with a plot to bench/results/latest.md and
latest.png.
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
    "scaleout": [25, 50, 100, 200, 300],
}
P95_LIMIT_MS = 250
PROFILE_LOAD = 300


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


LABELS = {0: "empty chat", 50: "after 50 messages", 500: "after 500 messages"}
BUILDS = {"": "prod", "dev server: ": "dev"}


def _at(b: dict | None, earlier: int, key: str) -> float | None:
    row = (b or {}).get(f"browser_{earlier}")
    return None if row is None else row.get(key)


def _more(b: dict | None, earlier: int) -> float | None:
    """How much slower chunk→DOM (p50) is after `earlier` messages than in an empty chat, %."""
    after, empty = _at(b, earlier, "p50_ms"), _at(b, 0, "p50_ms")
    return None if after is None or not empty else 100 * (after / empty - 1)


def render_figures(prod: dict, dev: dict | None) -> dict[str, float | None]:
    """Chromium in a long chat (500 messages) and on the dev server, and whether finished
    messages did any work while the reply streamed; None where a design has no such run."""
    out: dict[str, float | None] = {
        "chunk→DOM p50 ms, after 500 messages": _at(prod, 500, "p50_ms"),
        "chunk→DOM p95 ms, after 500 messages": _at(prod, 500, "p95_ms"),
        "first chunk→DOM ms, after 500 messages": _at(prod, 500, "first_ms"),
    }
    for prefix, b in (("", prod), ("dev server: ", dev)):
        if prefix:
            for earlier, label in LABELS.items():
                out[f"{prefix}chunk→DOM p50 ms, {label}"] = _at(b, earlier, "p50_ms")
                out[f"{prefix}chunk→DOM p95 ms, {label}"] = _at(b, earlier, "p95_ms")
                out[f"{prefix}first chunk→DOM ms, {label}"] = _at(b, earlier, "first_ms")
        for earlier in (50, 500):
            out[f"{prefix}chunk→DOM p50 {LABELS[earlier]} vs empty, % more"] = _more(b, earlier)
    finished = [_at(b, earlier, "finished_renders") for b in (prod, dev) for earlier in LABELS]
    finished = [n for n in finished if n is not None]
    out["finished messages' React renders while the reply streamed, every run"] = (
        sum(finished) if finished else None
    )
    return out


def render_targets() -> dict[str, str]:
    goal = {"chunk→DOM p50 ms, after 500 messages": "≤ 40"}
    goal["chunk→DOM p95 ms, after 500 messages"] = "≤ 100"
    goal["first chunk→DOM ms, after 500 messages"] = "≤ 30"
    for prefix in BUILDS:
        for label in LABELS.values():
            goal[f"{prefix}chunk→DOM p50 ms, {label}"] = "≤ 40"
            goal[f"{prefix}chunk→DOM p95 ms, {label}"] = "≤ 100"
            goal[f"{prefix}first chunk→DOM ms, {label}"] = "≤ 30"
        for earlier in (50, 500):
            goal[f"{prefix}chunk→DOM p50 {LABELS[earlier]} vs empty, % more"] = "≤ 5"
    goal["finished messages' React renders while the reply streamed, every run"] = "0"
    return goal


RENDER_COLUMNS = {
    "p50_ms": "chunk→DOM p50 ms",
    "p95_ms": "p95 ms",
    "first_ms": "first chunk ms",
    "first_page_ms": "of which the page's",
    "page_ms_p50": "page ms per update (p50)",
    "commits_per_update": "React commits per update",
    "components_per_update": "components rendered per update",
    "mutations_per_update": "DOM mutations per update",
    "finished_renders": "finished messages: React renders",
    "finished_mutations": "their DOM mutations",
    "start_components": "reply's start: components rendered",
    "start_page_ms": "its page ms",
    "end_components": "reply's end: components rendered",
    "end_page_ms": "its page ms",
}


def render_table(runs: dict[str, dict | None]) -> str:
    """What the page did per update of the reply, by design, build and earlier messages."""
    lines = [
        f"| design, build | earlier messages | {' | '.join(RENDER_COLUMNS.values())} |",
        f"|---|---:|{'---:|' * len(RENDER_COLUMNS)}",
    ]
    for name, b in runs.items():
        for earlier in LABELS:
            row = (b or {}).get(f"browser_{earlier}")
            if row is not None:
                cells = [fmt(row.get(key)) for key in RENDER_COLUMNS]
                lines.append(f"| {name} | {earlier} | {' | '.join(cells)} |")
    return "\n".join(lines)


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


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(
    ours: dict, naive: dict, ours_b: dict, naive_b: dict, scaled: dict, ours_dev: dict
) -> str:
    mine = figures(ours, ours_b) | render_figures(ours_b, ours_dev)
    theirs = figures(naive, naive_b) | render_figures(naive_b, None)
    goal = targets(ours) | render_targets()
    lines = [
        "| figure | target | ours | naive | ours/naive |",
        "|---|---|---:|---:|---:|",
    ]
    for name, value in mine.items():
        other = theirs[name]
        both = value is not None and other and "writes" not in name and "% more" not in name
        ratio = f"{value / other:.2g}" if both else "n/a"
        shown = fmt(other) if "writes" not in name else "n/a (no DB)"
        lines.append(f"| {name} | {goal.get(name, '')} | {fmt(value)} | {shown} | {ratio} |")
    lines.append(
        f"| same, 2 workers on Redis and PostgreSQL (`make serve`) | | "
        f"{capacity(scaled['capacity'])} | n/a | |"
    )
    lines += [
        "",
        "Capacity steps: one backend worker (uvicorn, on uvloop) alone in its process, state in memory "
        "and SQLite; or two such workers sharing Redis (state, live channels) and PostgreSQL, "
        "the tabs taking them in turn. The model server (bench/load_model.py: 50 chunks/s per "
        "reply, 1,000 chunks each) in a process of its own, the socket-level tabs in another; "
        "once every page is open and the worker quiet, the tabs send their questions 30 a "
        "second. Latency: every chunk of every reply, from the model server's write to the "
        "tab's receipt. CPU per 1,000 model chunks, of the backend processes, the tabs and "
        "the model server:",
        "",
        "| design | concurrent replies | p50 ms | p95 ms | p95 ms, steady streaming | "
        "lost or garbled | backend CPU s | tabs CPU s | model CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for design in (ours, naive, scaled):
        for s in design["capacity"]:
            lines.append(
                f"| {design['design']} | {s['load']} | {fmt(s['p50_ms'])} | "
                f"{fmt(s['p95_ms'])} | {fmt(s.get('steady_p95_ms'))} | {s['lost']} | "
                f"{s['cpu_per_1000']:.3f} | {s['client_cpu_per_1000']:.3f} | "
                f"{s.get('model_cpu_per_1000', 0):.3f} |"
            )
    lines += [
        "",
        "'Steady streaming': the chunks sent from two seconds after the last question to the "
        "first reply's end, while every reply streams and no exchange starts or ends. CPU per "
        "exchange (a question sent from a new chat, its page, its reply of 20 chunks, the "
        f"hand-over, its title; {ours['exchange']['replies']} of them 30 a second): ours "
        f"{ours['exchange']['cpu_ms']:.1f} ms, naive {naive['exchange']['cpu_ms']:.1f} ms "
        f"({ours['exchange']['lost']} and {naive['exchange']['lost']} lost).",
    ]
    return "\n".join(lines)


def thinking_table(ours: dict, ours_b: dict) -> str:
    """A reply that thinks first beside the plain one, in Chromium and at a socket-level tab."""
    plain, thinking = ours["reply_0"], ours.get("reply_thinking")
    shown, shown_thinking = ours_b["browser_0"], ours_b.get("browser_thinking")
    if thinking is None or shown_thinking is None:
        return "(not measured)"
    rows = [
        ("Chromium: websocket payload ÷ text", "payload", "≤ 5", shown, shown_thinking),
        ("Chromium: TCP bytes ÷ text (deflate)", "tcp", "≤ 1.5", shown, shown_thinking),
        ("chunk→DOM p50 ms", "p50_ms", "≤ 40", shown, shown_thinking),
        ("chunk→DOM p95 ms", "p95_ms", "≤ 100", shown, shown_thinking),
        ("first chunk→DOM ms", "first_ms", "≤ 30", shown, shown_thinking),
        ("socket tab: websocket payload ÷ text", "payload", "≤ 5", plain, thinking),
        ("chunk→socket tab p50 ms", "p50_ms", "", plain, thinking),
        ("chunk→socket tab p95 ms", "p95_ms", "", plain, thinking),
        ("database writes", "db_writes", "≤ seconds + 3", plain, thinking),
        ("seconds streamed", "seconds", "", plain, thinking),
    ]
    lines = [
        "| figure | target | plain reply | reply that thinks first |",
        "|---|---|---:|---:|",
        *(f"| {name} | {goal} | {fmt(a[key])} | {fmt(b[key])} |"
          for name, key, goal, a, b in rows),
        f"| socket tab: shown byte-exact | | {plain['complete']} | {thinking['complete']} |",
    ]  # fmt: skip
    return "\n".join(lines)


def profile_table(result: dict) -> str:
    """bench/profile.py's stages as a Markdown table."""
    step = result["step"]
    lines = [
        f"One worker, {result['load']} replies streaming (p50/p95 {fmt(step['p50_ms'])}/"
        f"{fmt(step['p95_ms'])} ms, {step['lost']} lost), py-spy sampling it for 8 s of "
        f"steady streaming (no question or end): {result['per_chunk_us']:.0f} µs of the "
        "worker's CPU per model chunk in that window (the whole step, exchanges included: "
        f"{1000 * step['cpu_per_1000']:.0f}); the samples that held the interpreter lock "
        "by stage, and the rest:",
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


def plot_render(ax, runs: dict[str, dict | None]) -> None:
    """chunk→DOM p50 and p95 by earlier messages, per design and build."""
    sizes = list(LABELS)
    for (name, b), colour in zip(runs.items(), ("C0", "C2", "C1"), strict=False):
        for key, style in (("p50_ms", "o-"), ("p95_ms", "s--")):
            shown = [(i, _at(b, n, key)) for i, n in enumerate(sizes) if _at(b, n, key)]
            if shown:
                x, y = zip(*shown, strict=True)
                ax.plot(x, y, style, c=colour, label=f"{name} {key[:3]}")
    ax.axhline(40, ls=":", c="gray")
    ax.axhline(100, ls=":", c="gray")
    ax.set_xticks(range(len(sizes)), [str(n) for n in sizes])
    ax.set_yscale("log")
    ax.set_xlabel("earlier messages in the chat")
    ax.set_ylabel("chunk→DOM ms (targets 40 and 100)")
    ax.set_title("One reply in Chromium, by chat length")
    ax.legend(fontsize=7)


def plot(
    ours: dict, naive: dict, ours_b: dict, naive_b: dict, scaled: dict, path: Path, runs: dict
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (wire, render, load) = plt.subplots(1, 3, figsize=(17, 4.5))
    plot_render(render, runs)
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
    ours_dev = run("bench.browser", "ours", "dev")
    runs = {"ours, production build": ours_b, "ours, dev server": ours_dev}
    runs["naive, production build"] = naive_b
    ours = run("bench.measure", "ours", *map(str, STEPS["ours"]))
    naive = run("bench.measure", "naive", *map(str, STEPS["naive"]))
    scaled = run("bench.scaleout", *map(str, STEPS["scaleout"]))
    profiled = run("bench.profile", str(PROFILE_LOAD))
    signins = run("bench.signins")
    text = table(ours, naive, ours_b, naive_b, scaled, ours_dev)
    report = (
        f"# make bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"Machine: {machine()}. Whole run {time.time() - started:.0f} s.\n\n"
        "A 4,000-character reply as 1,000 chunks of 4 at 100/s (scripted model server); "
        "'after 50 messages' = 50 earlier messages of 500 characters (500: the naive design, "
        "which resends them all with every chunk, runs 0 and 50 only). 'first chunk→DOM': "
        "the model sends its first chunk 10 ms after the request; the figure is the median of "
        "5 replies in that case, each from a page of its own (`first_ms_runs` in Raw has all "
        "5); every other Chromium figure is of the one 4,000-character reply.\n\n"
        f"{text}\n\n![plot](latest.png)\n\n"
        "What the page did per update of the reply (bench/browser.py, counted in the page by "
        "tests/e2e/render_probe.py: React commits and the components they rendered, DOM "
        "mutations; page ms from the socket message to its commit; the finished messages' "
        "renders and DOM mutations from the first update to the last; the reply's start, "
        "the commits from the send to the first chunk's, and its end, those after its last "
        "update, the hand-over):\n\n"
        f"{render_table(runs)}\n\n"
        "A reply that thinks first, in an empty chat (bench/browser.py in Chromium, production "
        "build; bench/streaming.py at a socket-level tab): 1,000 chunks of reasoning in "
        "`reasoning_content`, then the plain reply's 1,000 chunks of answer, at 100/s; 'text' "
        "is both, 8,000 characters, and a chunk counts as shown when its text is on the page, "
        "in the reasoning block or the answer:\n\n"
        f"{thinking_table(ours, ours_b)}\n\n"
        "Where a chunk's microseconds go (bench/profile.py):\n\n"
        f"{profile_table(profiled)}\n\n"
        "Sign-ins beside a streaming reply, on the same backend worker (bench/signins.py):\n\n"
        f"{sign_in_table(signins)}\n\n"
        f"Raw: `{json.dumps({'ours': ours, 'naive': naive, 'ours_browser': ours_b, 'ours_browser_dev': ours_dev, 'naive_browser': naive_b, 'scaleout': scaled, 'profile': profiled, 'signins': signins})}`\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    plot(ours, naive, ours_b, naive_b, scaled, RESULTS / "latest.png", runs)
    write_signins(signins)
    print(report.split("Raw:")[0])
    print(f"written to {RESULTS / 'latest.md'} and latest.png")


if __name__ == "__main__":
    main()
