#!/usr/bin/env bash
# The official MCP Python SDK (PyPI `mcp`) in a venv under target/, the client of the
# gateway's tests (tests/docker_gateway.rs), with PyPI `websockets`, the WebSocket client
# of the event stream's tests (tests/api_events.rs, tests/docker_events.rs), and PyPI
# `selenium`, the driver of the dashboard's Chromium (tests/docker_dashboard.rs). Does
# nothing when the venv already holds all three.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/mcp-venv
MCP_VERSION=2.3.0
WEBSOCKETS_VERSION=15.0.1
SELENIUM_VERSION=4.27.1

if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$MCP_VERSION' or m.version('websockets') != '$WEBSOCKETS_VERSION' or m.version('selenium') != '$SELENIUM_VERSION')" 2>/dev/null; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "mcp-venv: python3 is missing; install it (apt-get install python3 python3-venv)" >&2
  exit 1
fi
rm -rf "$VENV"
if ! python3 -m venv "$VENV"; then
  echo "mcp-venv: python3 -m venv failed; install python3-venv (apt-get install python3-venv)" >&2
  exit 1
fi
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" "websockets==$WEBSOCKETS_VERSION" "selenium==$SELENIUM_VERSION"; then
  echo "mcp-venv: could not install mcp==$MCP_VERSION, websockets==$WEBSOCKETS_VERSION and selenium==$SELENIUM_VERSION from PyPI; check the network or a PyPI mirror (PIP_INDEX_URL)" >&2
  exit 1
fi
echo "mcp-venv: the MCP Python SDK $MCP_VERSION, websockets $WEBSOCKETS_VERSION and selenium $SELENIUM_VERSION are in $VENV" >&2
