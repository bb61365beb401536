"""The MCP tools, through the official MCP Python client: over stdio (``aitaem mcp``) and over
streamable HTTP (``/mcp`` on ``aitaem serve``), on the bundled example project."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
from typing import Any, Callable, List

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from conftest import aitaem_cli

TOOLS = {
    "list_metrics",
    "list_slices",
    "list_segments",
    "describe",
    "check_compatibility",
    "compute",
    "show_sql",
}


def text(result: Any) -> str:
    assert result.content, result
    return result.content[0].text


async def use_tools(session: ClientSession, oracle: Callable[[str], List[Any]]) -> None:
    """What an assistant does: list, describe, check, compute, show the SQL; each answer is
    checked against the specs and hand-written SQL."""
    await session.initialize()
    tools = await session.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    compute_tool = next(t for t in tools.tools if t.name == "compute")
    assert "metrics" in compute_tool.input_schema["required"]

    metrics = json.loads(text(await session.call_tool("list_metrics", {})))["metrics"]
    revenue = next(m for m in metrics if m["name"] == "revenue")
    assert revenue["numerator"] == "SUM(revenue)"
    slices = json.loads(text(await session.call_tool("list_slices", {})))["slices"]
    assert "device" in {s["name"] for s in slices}
    segments = json.loads(text(await session.call_tool("list_segments", {})))["segments"]
    assert "platform_group" in {s["name"] for s in segments}
    described = json.loads(text(await session.call_tool("describe", {"name": "revenue_per_user"})))
    assert described["kind"] == "metric"
    assert described["spec"]["expression"] == "revenue / unique_users"

    fits = json.loads(text(await session.call_tool("check_compatibility", {"metric": "known_users"})))
    device = next(r for r in fits["results"] if r["spec"] == "device")
    assert device["compatible"] is False and device["missing_columns"] == ["device_type"]
    assert all(r["metric"] == "known_users" for r in fits["results"])

    computed = await session.call_tool(
        "compute", {"metrics": ["revenue", "unique_users"], "slices": ["device"]}
    )
    assert not computed.is_error
    answer = text(computed)
    assert answer.startswith("request: ")
    assert json.loads(answer.splitlines()[0][len("request: "):]) == {
        "metrics": ["revenue", "unique_users"],
        "slices": ["device"],
    }
    [(users,)] = oracle("SELECT COUNT(DISTINCT user_id) FROM events WHERE device_type = 'tablet'")
    # The compact table: a row per slice value, a column per metric.
    tablet = next(line for line in answer.splitlines() if line.startswith("device: tablet"))
    assert tablet.split()[-1] == f"{users:,}", answer

    sql = json.loads(text(await session.call_tool("show_sql", {"metrics": ["revenue"], "slices": "device"})))
    assert len(sql["statements"]) == 1
    assert "SUM(revenue)" in sql["statements"][0]["sql"]

    # A mistake is an answer the assistant reads, not a protocol error.
    wrong = await session.call_tool("compute", {"metrics": ["revenu"]})
    assert wrong.is_error
    assert "SpecNotFoundError" in text(wrong) and "revenue" in text(wrong)
    wrong = await session.call_tool("compute", {"metrics": ["revenue"], "period": "fortnightly"})
    assert wrong.is_error and "fortnightly" in text(wrong)


def test_mcp_over_stdio(ads: pathlib.Path, oracle: Callable[[str], List[Any]]) -> None:
    async def run() -> None:
        server = StdioServerParameters(command=aitaem_cli(), args=["mcp", "--specs", str(ads)])
        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write) as session:
                await use_tools(session, oracle)

    asyncio.run(asyncio.wait_for(run(), timeout=120))


def test_mcp_over_http(ads: pathlib.Path, oracle: Callable[[str], List[Any]], tmp_path: pathlib.Path) -> None:
    token = tmp_path / "token"
    token.write_text("mcp-test-token\n")
    server = subprocess.Popen(
        [aitaem_cli(), "serve", "--specs", str(ads), "--listen", "127.0.0.1:0",
         "--token-file", str(token)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert first.startswith("aitaem: listening on "), first
        base = first.strip().removeprefix("aitaem: listening on ")

        async def run() -> None:
            headers = {"Authorization": "Bearer mcp-test-token"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                async with streamable_http_client(f"{base}/mcp", http_client=http) as (read, write):
                    async with ClientSession(read, write) as session:
                        await use_tools(session, oracle)

        asyncio.run(asyncio.wait_for(run(), timeout=120))

        # Without the token, the MCP endpoint is closed like every other.
        async def unauthorized() -> int:
            async with httpx2.AsyncClient(timeout=30) as http:
                response = await http.post(
                    f"{base}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={"Accept": "application/json, text/event-stream"},
                )
                return response.status_code

        assert asyncio.run(unauthorized()) == 401
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0
