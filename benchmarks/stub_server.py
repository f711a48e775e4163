"""An OpenAI-compatible stub server: answers every chat completion after a fixed latency with a
minimal valid instance of the requested JSON schema (or a short text), so that only Oyster's own
overhead is measured, and the OpenAI backend can be tested without a model.

    python -m benchmarks.stub_server --port 8011 --latency 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from aiohttp import web


def example(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small value that satisfies ``schema`` (objects, arrays, enums, bounds, $ref, anyOf)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return example(root["$defs"][name], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
        return example(options[0], root)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(v, root) for k, v in props.items()}
    if kind == "array":
        n = max(1, int(schema.get("minItems", 1)))
        return [example(schema.get("items", {}), root) for _ in range(n)]
    if kind == "string":
        return "stub text"[: int(schema.get("maxLength", 9))] or "s"
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        lo = float(schema.get("minimum", 0.0))
        hi = float(schema.get("maximum", lo + 1.0))
        return (lo + hi) / 2
    if kind == "boolean":
        return True
    return None


STATS = web.AppKey("stats", dict)


def make_app(latency_s: float) -> web.Application:
    stats = {"requests": 0}
    # Like a server's prompt cache, cheaply: a first message (the system prompt) seen before is
    # reported as served from cache (usage.prompt_tokens_details.cached_tokens).
    seen: set[str] = set()

    def cached(messages: list[dict[str, Any]]) -> int:
        first = str(messages[0].get("content", "")) if messages else ""
        hit = first in seen
        seen.add(first)
        return len(first.split()) if hit else 0

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        stats["requests"] += 1
        await asyncio.sleep(latency_s)
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            content = json.dumps(example(fmt["json_schema"]["schema"]))
        else:
            content = "Thank you for telling me. I'm here to help you find a safe next step."
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        finish = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and fmt.get("type") != "json_schema" and len(content.split()) > limit:
            # as a server does: the reply stops at the token limit, and says so
            content, finish = " ".join(content.split()[:limit]), "length"
        return web.json_response(
            {
                "id": f"stub-{stats['requests']}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(content.split()),
                    "total_tokens": prompt_tokens + len(content.split()),
                    "prompt_tokens_details": {"cached_tokens": cached(body.get("messages", []))},
                },
            }
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    app[STATS] = stats
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds before each answer")
    args = parser.parse_args()
    web.run_app(make_app(args.latency), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
