"""The embedded default model in-process vs behind the managed llama-server, on this machine's CPUs.

    python -m benchmarks.local_serving [--parallel 1 2 4 8] [--tokens 96] [--in-process 1 2]

Prints three tables (docs/performance.md): aggregate completion tokens/s at N parallel sequences,
plain and JSON-schema; the share of prompt tokens the server took from its cache for prompts that
share a long prefix (shared part first, and specific part first); and the load average while measuring.
Requests go through the project's own backends, so the figures include their overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from agents.backends import ChatBackend, ChatRequest, EmbeddedBackend, OpenAIBackend
from agents.backends.llama_server import LlamaServer, ServerSpec
from schemas.config import EmbeddedRole, OpenAIRole
from schemas.messages import ChatMessage

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("tides", "bread", "bridges", "owls", "glaciers", "printing", "chess", "volcanoes")
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "points": {"type": "array", "items": {"type": "string"}, "minItems": 6},
    },
    "required": ["title", "points"],
}


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def request(i: int, tokens: int, structured: bool) -> ChatRequest:
    topic = TOPICS[i % len(TOPICS)]
    ask = f"Write a long, detailed explanation of {topic} for a curious twelve-year-old."
    if structured:
        ask += " Answer as JSON: a title and at least six points."
    return ChatRequest(
        messages=[ChatMessage(role="user", content=ask)],
        json_schema=SCHEMA if structured else None,
        max_tokens=tokens,
        temperature=0.7,
        seed=i,
    )


async def rate(backend: ChatBackend, n: int, tokens: int, structured: bool) -> float:
    """Aggregate completion tokens/s of n concurrent requests (at n = 1, 1000/rate is ms per step)."""
    start = time.perf_counter()
    results = await asyncio.gather(*(backend.complete(request(i, tokens, structured)) for i in range(n)))
    return sum(r.completion_tokens for r in results) / (time.perf_counter() - start)


def spec(parallel: int) -> ServerSpec:
    return ServerSpec.for_role(EmbeddedRole(parallel=parallel, n_ctx=2048))


async def throughput(parallel: list[int], in_process: list[int], tokens: int) -> list[str]:
    rows = []
    local = EmbeddedBackend(EmbeddedRole(n_ctx=2048))
    await local.complete(request(0, 4, False))  # load the model outside the measurement
    for n in in_process:
        plain, json_ = await rate(local, n, tokens, False), await rate(local, n, tokens, True)
        rows.append(f"| in-process | {n} | {plain:.1f} | {json_:.1f} | {load()} |")
        print(rows[-1], flush=True)
    for n in parallel:
        started = time.perf_counter()
        async with LlamaServer(spec(n)) as server:
            ready = time.perf_counter() - started
            http = OpenAIBackend(OpenAIRole(base_url=server.url + "/v1", model=server.alias))
            try:
                await http.complete(request(0, 4, False))
                plain, json_ = await rate(http, n, tokens, False), await rate(http, n, tokens, True)
            finally:
                await http.aclose()
        where = f"llama-server, {n} slots (ready in {ready:.1f} s)"
        rows.append(f"| {where} | {n} | {plain:.1f} | {json_:.1f} | {load()} |")
        print(rows[-1], flush=True)
    return rows


def shared_prefix() -> str:
    # A realistic shared block: the bundled risk taxonomy, as a judge's prompt would carry it.
    files = sorted((ROOT / "agents" / "data" / "risk_taxonomy").glob("*"))
    text = "\n".join(f.read_text(encoding="utf-8") for f in files if f.is_file())
    return "You judge replies against this taxonomy.\n" + text[:6000]


async def cached_share(specific_first: bool, n: int = 8, slots: int = 4) -> str:
    prefix = shared_prefix()

    def messages(i: int) -> list[dict[str, str]]:
        specific = f"Scenario {i}: a user asks about {TOPICS[i % len(TOPICS)]}. Judge in one word."
        if specific_first:
            return [{"role": "user", "content": specific + "\n\n" + prefix}]
        return [{"role": "system", "content": prefix}, {"role": "user", "content": specific}]

    async with LlamaServer(spec(slots)) as server, aiohttp.ClientSession() as http:

        async def one(i: int) -> dict[str, Any]:
            body = {"messages": messages(i), "max_tokens": 4, "temperature": 0.0}
            async with http.post(server.url + "/v1/chat/completions", json=body) as resp:
                timings: dict[str, Any] = (await resp.json())["timings"]
                return timings

        first = await one(0)  # fills the cache, as the first call of a run does
        cold = await asyncio.gather(*(one(i) for i in range(1, n)))  # some land on empty slots
        warm = await asyncio.gather(*(one(i) for i in range(n, 2 * n)))  # every slot has served once

    def share(timings: list[dict[str, Any]]) -> str:
        cached = sum(t["cache_n"] for t in timings)
        return f"{cached / max(cached + sum(t['prompt_n'] for t in timings), 1):.0%}"

    prompt_ms = sum(t["prompt_ms"] for t in warm) / len(warm)
    order = "specific first" if specific_first else "shared first"
    return (
        f"| {order} | {first['prompt_n'] + first['cache_n']} | {share(cold)} | {share(warm)} | "
        f"{first['prompt_ms']:.0f} | {prompt_ms:.0f} | {load()} |"
    )


async def main(args: argparse.Namespace) -> None:
    print(f"cpus {os.cpu_count()}, load {load()}")
    print("| path | parallel sequences | plain tok/s | JSON-schema tok/s | load (1/5/15 min) |")
    print("| --- | --- | --- | --- | --- |")
    await throughput(args.parallel, args.in_process, args.tokens)
    print("\n| prompt order | prompt tokens | cached: calls 2–8 | 9–16 | prompt ms: first | 9–16 | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for specific_first in (False, True):
        print(await cached_share(specific_first), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--in-process", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokens", type=int, default=96, help="completion tokens per request")
    asyncio.run(main(parser.parse_args()))
