"""The official MCP Python SDK as the client of idle servers, for tests/docker_idle.rs and
scripts/bench-ondemand.sh: the clients of gateway_client.py, plus several first calls at
once, a timed call and a listing.

Each subcommand prints one JSON line with what it saw; the token comes from MCP_TOKEN.
"""

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gateway_client import client, failure, say, text_of  # noqa: E402


async def one_call(url, mode, tool, arguments):
    try:
        async with client(url, mode) as c:
            result = await c.call_tool(tool, arguments)
            return {"text": text_of(result), "is_error": bool(result.is_error)}
    except Exception as e:
        return {"error": failure(e)}


async def calls(url, mode, tool, count):
    """COUNT sessions at once, each making one call of TOOL with text "call <i>"."""
    results = await asyncio.gather(
        *(one_call(url, mode, tool, {"text": f"call {i}"}) for i in range(int(count)))
    )
    say({"results": list(results)})


async def timed(url, mode, tool):
    """One session and one call, with the milliseconds from connecting to the answer."""
    started = time.monotonic()
    r = await one_call(url, mode, tool, {"text": "timed"})
    r["ms"] = round((time.monotonic() - started) * 1000, 1)
    say(r)


async def tools(url, mode):
    """One session listing every tool behind the URL."""
    async with client(url, mode) as c:
        say({"tools": sorted(t.name for t in (await c.list_tools()).tools)})


def main():
    command, *args = sys.argv[1:]
    asyncio.run({"calls": calls, "timed": timed, "tools": tools}[command](*args))


if __name__ == "__main__":
    main()
