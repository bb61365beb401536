//! The OpenAPI 3 description of the HTTP endpoints (`GET /v1/openapi.json`).

use aitaem::{Comparison, PeriodType, WeekStart};
use serde_json::{Value, json};

/// The document.
pub(crate) fn document() -> Value {
    let error = json!({"$ref": "#/components/responses/Error"});
    let list = |kind: &str, what: &str| {
        json!({
            "get": {
                "summary": format!("The {what} the specs declare, in name order"),
                "responses": {
                    "200": {"description": format!("`{{\"{kind}\": [...]}}`"),
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "401": error,
                },
            }
        })
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "aitaem",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Metrics, slices and segments declared once in YAML, computed on DuckDB, PostgreSQL, BigQuery and Spark. Every endpoint but /healthz needs `Authorization: Bearer TOKEN` when the server has a token.",
        },
        "paths": {
            "/": {"get": {
                "summary": "The metrics explorer: a page for people to choose, chart, tabulate and share computes (its files are built into the server)",
                "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }},
            "/healthz": {"get": {
                "summary": "Whether the server is up, and how many specs it has",
                "security": [],
                "responses": {"200": {"description": "`{\"status\": \"ok\", \"specs\": {...}}`",
                    "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
            "/v1/metrics": list("metrics", "metrics"),
            "/v1/slices": list("slices", "slices"),
            "/v1/segments": list("segments", "segments"),
            "/v1/scan": {"post": {
                "summary": "Which slices and segments fit which metrics",
                "responses": {
                    "200": {"description": "`{\"results\": [{metric, spec, spec_type, compatible, valid_join_keys, missing_columns, reason}]}`",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                    "401": error, "429": error, "500": error, "502": error, "504": error,
                },
            }},
            "/v1/compute": {"post": {
                "summary": "Compute metrics: the standard 11-column table and the columns the options add",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ComputeRequest"}}}},
                "responses": {
                    "200": {
                        "description": "The result: JSON by default, CSV for `Accept: text/csv`, an Arrow IPC stream for `Accept: application/vnd.apache.arrow.stream`, Parquet for `Accept: application/vnd.apache.parquet` (warnings and notices then in `aitaem-warning` and `aitaem-notice` headers), or the table for people for `Accept: application/vnd.aitaem.table+json` (a row per period, slice value, segment value and entity, a column per metric, values formatted as the command line formats them, with each cell's number)",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ComputeResult"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
                            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                            "application/vnd.aitaem.table+json": {"schema": {"type": "object", "description": "`{caption, header, numeric, rows, values, labels, metrics, derived, period_type, warnings, notices}`"}},
                        },
                    },
                    "400": error, "401": error, "404": error, "413": error, "429": error,
                    "500": error, "502": error, "504": error,
                },
            }},
            "/v1/sql": {"post": {
                "summary": "The statements a compute would run, without running them",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ComputeRequest"}}}},
                "responses": {
                    "200": {"description": "`{\"statements\": [{source, backend, metrics, sql, explain?, estimated_bytes?}], \"derived_metrics\": [...], \"notices\": [...]}`",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": error, "401": error, "404": error, "429": error, "500": error, "502": error, "504": error,
                },
            }},
            "/mcp": {"post": {
                "summary": "MCP (Model Context Protocol) over streamable HTTP: JSON-RPC messages for the tools list_metrics, list_slices, list_segments, describe, check_compatibility, compute and show_sql",
                "responses": {"200": {"description": "JSON-RPC responses (JSON or an event stream)"}, "401": error},
            }},
            "/metrics": {"get": {
                "summary": "The server's counters in the Prometheus text format",
                "responses": {"200": {"description": "requests by endpoint and status, latency histogram, queue depth, computes running, backend errors",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}, "401": error},
            }},
            "/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3",
                    "content": {"application/json": {"schema": {"type": "object"}}}}, "401": error},
            }},
        },
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {
                "description": "`{\"error\": {\"kind\", \"message\", \"location\"}}`: 4xx for what the request got wrong, 5xx for the server, the project or a backend",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }},
            "schemas": {
                "ComputeRequest": compute_request(true),
                "ComputeResult": {
                    "type": "object",
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "rows": {"type": "array", "items": {"type": "array", "items": {"nullable": true, "oneOf": [{"type": "string"}, {"type": "number"}]}}},
                        "warnings": {"type": "array", "items": {"type": "object", "properties": {
                            "kind": {"type": "string"}, "message": {"type": "string"}}}},
                        "notices": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "object", "properties": {
                        "kind": {"type": "string"},
                        "message": {"type": "string"},
                        "location": {"type": "string", "nullable": true},
                    }}},
                },
            },
        },
    })
}

/// The JSON schema of a compute request (`sql`: with `/v1/sql`'s `explain` and `estimate`).
pub(crate) fn compute_request(sql: bool) -> Value {
    let names = |what: &str| json!({"description": what, "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
    let segment = json!({"oneOf": [
        {"type": "string"},
        {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "join_key": {"type": "string"}}},
    ]});
    let mut properties = json!({
        "metrics": names("metric names"),
        "slices": names("slice names: a breakdown each"),
        "segments": {"description": "one segment, by name or {name, join_key}",
            "oneOf": [segment.clone(), {"type": "array", "maxItems": 1, "items": segment}]},
        "where": names("SQL predicates on the source rows, all of which must hold"),
        "time_window": {"description": "[start, end): dates or date-times", "type": "array",
            "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        "period": {"type": "string", "enum": PeriodType::ALL.map(PeriodType::as_str)},
        "by_entity": {"type": "string", "description": "a column: a row per value"},
        "week_start": {"type": "string", "enum": WeekStart::ALL.map(WeekStart::as_str)},
        "fill_gaps": {"type": "boolean", "description": "every period of the window for every series"},
        "compare": {"type": "string", "enum": [Comparison::PreviousPeriod.as_str(), Comparison::PreviousYear.as_str()]},
        "share": {"type": "boolean", "description": "each value over its slice's total"},
        "cumulative": {"type": "boolean", "description": "running values from the window's start"},
        "rolling": {"type": "integer", "minimum": 1, "description": "values over the last N periods"},
        "sort": {"type": "boolean"},
    });
    if sql {
        properties["explain"] =
            json!({"type": "boolean", "description": "also the backend's plan of each statement"});
        properties["estimate"] = json!({"type": "boolean", "description": "also the bytes each statement would read (BigQuery)"});
    }
    json!({
        "type": "object",
        "required": ["metrics"],
        "additionalProperties": false,
        "properties": properties,
    })
}
