"""Oyster's model I/O beside bespokelabs-curator's, on the same fixed-latency stub.

    python -m benchmarks.peers [--prompts 2560] [--concurrency 128] [--latency 1.0] [--runs 3]
                               [--curator-python /work/venv-bench/bin/python]

Both sides send the same prompts, ``--concurrency`` at a time, to one OpenAI-compatible stub
(benchmarks/stub_server.py, a fixed latency per answer), as plain text and as a 3-field JSON schema
whose answers each side validates into a pydantic model. Each side runs in a fresh process of its
own, one after the other (Oyster, then curator, then the next run), so they never share the cores.
Per side and kind it prints calls/s, the share of the ideal rate (concurrency / latency), the
client's CPU milliseconds per call (all its threads and child processes, over the calls alone, not
the imports) and its peak RSS; then min / median / max over the runs.

Oyster's side is its call path, `RoleLLM.ask`: render, the openai backend, validation (a repair
on an invalid answer), the call record with its live listener. Curator's is `curator.LLM` with
`backend="openai"`, the stub as `base_url`, `max_concurrent_requests` = concurrency and a fresh
working directory per run (so nothing is answered from its cache).

curator is not a dependency: `pip install -e .[bench]` installs it, or (to keep its pins out of
the project's environment) a separate venv whose `--curator-python` runs the curator side; see
docs/performance.md. Without it the benchmark says so in one line and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("text", "json")


class Answer(BaseModel):
    """The structured answer both sides ask for: three fields, as in the issue's comparison."""

    reply: str
    score: int
    safe: bool


def prompts(n: int) -> list[str]:
    return [f"Question {i}: how can I help a friend who says they feel unsafe at home?" for i in range(n)]


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# -- the two sides (each runs in its own process: `--side oyster|curator`) ------------------------
def run_oyster(url: str, kind: str, n: int, concurrency: int) -> dict[str, float]:
    from jinja2 import StrictUndefined

    from agents.backends.openai_backend import OpenAIBackend
    from agents.llm import CallLog, RoleLLM
    from agents.prompt_guard import BoundedSandbox
    from agents.prompting import PromptTemplate
    from agents.steps import StepName
    from schemas.config import OpenAIRole

    source = "{% block user %}{{ prompt }}{% endblock %}"
    env = BoundedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    template = PromptTemplate(
        name="peers",
        role="user",
        path="benchmarks/peers.py",
        source=source,
        inputs=("prompt",),
        output=Answer if kind == "json" else None,
        version="peers",
        _template=env.from_string(source),
    )

    class Prompts:  # the library's one method the call path uses
        def get(self, step: StepName, language: str = "en") -> PromptTemplate:
            return template

    role = OpenAIRole(base_url=url, model="stub", max_retries=0, timeout_s=600)
    llm = RoleLLM("user", role, OpenAIBackend(role), Prompts())  # type: ignore[arg-type]
    heard: list[Any] = []
    log = CallLog(run_id="peers", scenario_id="peers", listener=heard.append)
    texts = prompts(n)

    async def main() -> tuple[float, float, int]:
        gate = asyncio.Semaphore(concurrency)

        async def one(text: str) -> Any:
            async with gate:
                return await llm.ask(StepName.USER_SATISFACTION, {"prompt": text}, log)

        cpu0, t0 = _cpu_s(), time.perf_counter()
        results = await asyncio.gather(*(one(t) for t in texts))
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        await llm.backend.aclose()
        ok = sum(1 for r in results if (isinstance(r, Answer) if kind == "json" else isinstance(r, str)))
        return wall, cpu, ok

    wall, cpu, ok = asyncio.run(main())
    return {"wall_s": wall, "cpu_s": cpu, "ok": ok, "calls": len(log.calls)}


def run_curator(url: str, kind: str, n: int, concurrency: int) -> dict[str, float]:
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    os.environ["TELEMETRY_ENABLED"] = "false"  # no network here, and none wanted
    # curator counts tokens with tiktoken, which downloads its encoding on first use; litellm
    # (installed with curator) ships the same file, so point tiktoken's cache at it.
    litellm = importlib.util.find_spec("litellm")
    if litellm is not None and litellm.origin:
        tokenizers = Path(litellm.origin).parent / "litellm_core_utils" / "tokenizers"
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))
    from bespokelabs import curator

    class Ask(curator.LLM):
        def prompt(self, row: dict[str, Any]) -> str:
            return str(row["prompt"])

        def parse(self, row: dict[str, Any], response: Any) -> dict[str, Any]:
            if isinstance(response, BaseModel):
                return {"reply": response.model_dump_json()}
            return {"reply": str(response)}

    llm = Ask(
        model_name="stub",
        backend="openai",
        response_format=Answer if kind == "json" else None,
        backend_params={
            "base_url": url,
            "max_concurrent_requests": concurrency,
            # rate limits far above the stub's rate: only the concurrency bound applies
            "max_requests_per_minute": 10_000_000,
            "max_tokens_per_minute": 10_000_000_000,
            "max_retries": 0,
            "require_all_responses": False,
        },
    )
    rows = [{"prompt": p} for p in prompts(n)]
    with tempfile.TemporaryDirectory() as work:
        cpu0, t0 = _cpu_s(), time.perf_counter()
        out = llm(rows, working_dir=work)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        ok = len(out.dataset) if hasattr(out, "dataset") else len(out)
    return {"wall_s": wall, "cpu_s": cpu, "ok": ok, "calls": n}


def side_main(side: str, url: str, kind: str, n: int, concurrency: int) -> None:
    figures = (run_oyster if side == "oyster" else run_curator)(url, kind, n, concurrency)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("PEERS-RESULT " + json.dumps(figures), flush=True)


# -- the driver -------------------------------------------------------------------------------------
def curator_missing(python: str) -> str | None:
    """Why the curator side cannot run, in a few words; None when it can."""
    probe = subprocess.run(
        [python, "-c", "import bespokelabs.curator"], capture_output=True, text=True, cwd=ROOT
    )
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return f"{python} cannot import bespokelabs.curator ({last})"


def run_side(python: str, side: str, url: str, kind: str, n: int, concurrency: int) -> dict[str, float]:
    proc = subprocess.run(
        [python, "-m", "benchmarks.peers", "--side", side, "--url", url, "--kind", kind,
         "--prompts", str(n), "--concurrency", str(concurrency)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("PEERS-RESULT "):
            return dict(json.loads(line.removeprefix("PEERS-RESULT ")))
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    raise SystemExit(f"benchmarks.peers: the {side} side ({kind}) failed (exit {proc.returncode}):\n{tail}")


def line(label: str, m: dict[str, float], ideal: float) -> str:
    rate = m["calls"] / m["wall_s"]
    cpu_ms = 1000 * m["cpu_s"] / m["calls"]
    return (
        f"{label:<22} {m['calls']:>6.0f} calls {m['wall_s']:>6.1f} s {rate:>7.1f} calls/s "
        f"({100 * rate / ideal:>5.1f} % of ideal {ideal:.0f})  {cpu_ms:>5.2f} ms CPU/call  "
        f"peak {m['peak_rss_mb']:>5.0f} MB  ({m['ok']:.0f} answers)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="Oyster beside bespokelabs-curator on the same stub.")
    ap.add_argument("--prompts", type=int, default=2560)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument(
        "--curator-python",
        default=os.environ.get("OYSTER_CURATOR_PYTHON", sys.executable),
        help="the interpreter that runs the curator side (a venv with bespokelabs-curator); "
        "default $OYSTER_CURATOR_PYTHON, else this one",
    )
    ap.add_argument("--side", choices=("oyster", "curator"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        side_main(args.side, args.url, args.kind, args.prompts, args.concurrency)
        return
    missing = curator_missing(args.curator_python)
    if missing:
        raise SystemExit(
            f"benchmarks.peers: bespokelabs-curator is not installed: {missing}; install it with "
            "`pip install -e .[bench]` or give --curator-python (docs/performance.md)"
        )
    from benchmarks.throughput import start_stub

    stub, url = start_stub(args.latency)
    ideal = args.concurrency / args.latency
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        load = os.getloadavg()[0]
        print(
            f"stub latency {args.latency} s, {args.prompts} prompts, {args.concurrency} in flight, "
            f"{args.runs} run(s); {os.cpu_count()} CPUs, load average {load:.2f}",
            flush=True,
        )
        for run in range(1, args.runs + 1):
            for kind in args.kinds:
                for side, python in (("oyster", sys.executable), ("curator", args.curator_python)):
                    m = run_side(python, side, url, kind, args.prompts, args.concurrency)
                    results.setdefault((side, kind), []).append(m)
                    print(line(f"run {run} {side} {kind}", m, ideal), flush=True)
    finally:
        stub.terminate()
    print(f"\nover {args.runs} run(s): min / median / max (load average now {os.getloadavg()[0]:.2f})")
    for kind in args.kinds:
        for side in ("oyster", "curator"):
            runs = results[(side, kind)]
            rates = [100 * m["calls"] / m["wall_s"] / ideal for m in runs]
            cpus = [1000 * m["cpu_s"] / m["calls"] for m in runs]
            rss = [m["peak_rss_mb"] for m in runs]
            print(
                f"{side:<8} {kind:<5} calls/s {_mmm([r * ideal / 100 for r in rates], '.1f')}  "
                f"% of ideal {_mmm(rates, '.1f')}  CPU ms/call {_mmm(cpus, '.2f')}  "
                f"peak RSS MB {_mmm(rss, '.0f')}"
            )


def _mmm(values: list[float], fmt: str) -> str:
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


if __name__ == "__main__":
    main()
