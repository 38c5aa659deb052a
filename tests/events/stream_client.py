"""A real client of the portal's event streams, for the Rust tests that drive it.

    stream_client.py ws URL [--protocol-token]   a WebSocket (the `websockets` package)
    stream_client.py sse URL                     server-sent events (the standard library)

The token is read from MCP_TOKEN and sent as `Authorization: Bearer`, or, with
--protocol-token, as the subprotocol `bearer.TOKEN` beside `mcp-portal` (what a browser
must do). Prints one JSON line per event, `{"event", "data", "received_at"}` with the
wall-clock time of arrival, first `{"open": true, ...}` and last `{"closed": true, ...}`
when the server ends the stream.
"""

import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request

import websockets
from websockets.asyncio.client import connect


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def ws(url, token, via_protocol):
    if via_protocol:
        kwargs = {"subprotocols": ["mcp-portal", "bearer." + token]}
    else:
        kwargs = {
            "subprotocols": ["mcp-portal"],
            "additional_headers": {"Authorization": "Bearer " + token},
        }
    try:
        sock = await connect(url, **kwargs)
    except websockets.InvalidStatus as e:
        emit({"refused": e.response.status_code})
        return
    emit({"open": True, "subprotocol": sock.subprotocol})
    try:
        async for message in sock:
            event = json.loads(message)
            event["received_at"] = time.time()
            emit(event)
    except websockets.ConnectionClosed:
        pass
    emit({"closed": True, "code": sock.close_code, "reason": sock.close_reason})


def sse(url, token):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        emit({"refused": e.code})
        return
    emit({"open": True, "content_type": resp.headers.get("content-type")})
    name, data = None, []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())
        elif line == "" and name is not None:
            emit({"event": name, "data": json.loads("\n".join(data)), "received_at": time.time()})
            name, data = None, []
    emit({"closed": True})


def main():
    mode, url = sys.argv[1], sys.argv[2]
    token = os.environ["MCP_TOKEN"]
    if mode == "ws":
        asyncio.run(ws(url, token, "--protocol-token" in sys.argv[3:]))
    elif mode == "sse":
        sse(url, token)
    else:
        sys.exit(f"unknown mode {mode}; use ws or sse")


if __name__ == "__main__":
    main()
