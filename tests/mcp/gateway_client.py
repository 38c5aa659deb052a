"""The official MCP Python SDK as a client of the portal's gateway, for tests/docker_gateway.rs.

Each subcommand does what an MCP client does, then prints one JSON line with what it
saw; the Rust test asserts on that. The token comes from MCP_TOKEN, so it never shows
in a process list. MODE is the SDK's: "legacy" (the initialize handshake, sessions) or
"2026-07-28" (stateless).
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def client(url, mode):
    """The SDK's own client, with the token as a bearer header; with PORTALCTL set, over
    stdio through `portalctl connect` (the relay for stdio-only clients) instead."""
    portalctl = os.environ.get("PORTALCTL")
    if portalctl:
        base, _, server = url.partition("/mcp")
        args = ["connect"] + ([server.strip("/")] if server.strip("/") else [])
        env = {"MCP_PORTAL_URL": base, "MCP_PORTAL_TOKEN": os.environ["MCP_TOKEN"], "PATH": os.environ.get("PATH", "")}
        return Client(StdioServerParameters(command=portalctl, args=args, env=env), mode=mode)
    headers = {"Authorization": f"Bearer {os.environ['MCP_TOKEN']}"}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
    return Client(streamable_http_client(url, http_client=http), mode=mode)


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def say(value):
    print(json.dumps(value), flush=True)


async def aggregate(url, mode):
    """Lists every tool behind the URL and calls each server's echo."""
    async with client(url, mode) as c:
        tools = sorted(t.name for t in (await c.list_tools()).tools)
        calls = {}
        for name in tools:
            if name == "echo" or name.endswith("__echo"):
                calls[name] = text_of(await c.call_tool(name, {"text": f"via {name}"}))
        say({"protocol": c.protocol_version, "tools": tools, "calls": calls})


async def concurrent(url, mode, sessions):
    """Opens many sessions at once; each checks it gets only its own answers."""

    async def one(i):
        mine = []
        async with client(url, mode) as c:
            for round in range(5):
                want = f"session {i} round {round}"
                got = text_of(await c.call_tool("echo", {"text": want}))
                mine.append(got == want)
            # Progress goes to the session whose call it is.
            seen = []

            async def progress(p, total, message):
                seen.append(p)

            await c.call_tool("sleep", {"ms": 300}, progress_callback=progress)
            mine.append(len(seen) > 0)
        return all(mine)

    results = await asyncio.gather(*(one(i) for i in range(sessions)), return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    say({"sessions": sessions, "ok": sum(1 for r in results if r is True), "errors": errors})


async def call(url, mode, tool, arguments):
    """One call; its result or its error."""
    try:
        async with client(url, mode) as c:
            result = await c.call_tool(tool, json.loads(arguments))
            say({"text": text_of(result), "is_error": bool(result.is_error)})
    except Exception as e:
        say({"error": failure(e)})


async def hold(url, mode, ms):
    """Starts a long call, says "started" at its first progress, then waits for its end."""
    started = asyncio.Event()

    async def progress(p, total, message):
        if not started.is_set():
            started.set()
            say({"started": True})

    try:
        async with client(url, mode) as c:
            result = await c.call_tool("sleep", {"ms": int(ms)}, progress_callback=progress)
            say({"text": text_of(result), "is_error": bool(result.is_error)})
    except Exception as e:
        say({"error": failure(e)})


def failure(e):
    """A JSON-RPC error's code and message, or what else failed (an HTTP status the SDK
    raises, say), through the exception groups anyio wraps them in."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    if isinstance(e, MCPError):
        return {"code": e.code, "message": e.error.message}
    return {"code": None, "message": f"{type(e).__name__}: {e}"}


def main():
    command, *args = sys.argv[1:]
    run = {"aggregate": aggregate, "concurrent": concurrent, "call": call, "hold": hold}[command]
    if command == "concurrent":
        args[2] = int(args[2])
    asyncio.run(run(*args))


if __name__ == "__main__":
    main()
