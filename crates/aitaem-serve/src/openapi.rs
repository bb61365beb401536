//! The OpenAPI 3 description of the HTTP endpoints (`GET /v1/openapi.json`).

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
            "description": "Metrics, slices and segments declared once in YAML, computed on DuckDB, PostgreSQL and BigQuery. Every endpoint but /healthz needs `Authorization: Bearer TOKEN` when the server has a token.",
        },
        "paths": {
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
                        "description": "The result: JSON by default, CSV for `Accept: text/csv`, an Arrow IPC stream for `Accept: application/vnd.apache.arrow.stream` (warnings and notices then in `aitaem-warning` and `aitaem-notice` headers)",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ComputeResult"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
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
                "Names": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "Segment": {"oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"}, "join_key": {"type": "string"}}},
                ]},
                "ComputeRequest": {
                    "type": "object",
                    "required": ["metrics"],
                    "additionalProperties": false,
                    "properties": {
                        "metrics": {"$ref": "#/components/schemas/Names"},
                        "slices": {"$ref": "#/components/schemas/Names"},
                        "segments": {"oneOf": [{"$ref": "#/components/schemas/Segment"},
                            {"type": "array", "maxItems": 1, "items": {"$ref": "#/components/schemas/Segment"}}]},
                        "where": {"$ref": "#/components/schemas/Names"},
                        "time_window": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                        "period": {"type": "string", "enum": ["all_time", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"]},
                        "by_entity": {"type": "string"},
                        "week_start": {"type": "string", "enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]},
                        "fill_gaps": {"type": "boolean"},
                        "compare": {"type": "string", "enum": ["previous_period", "previous_year"]},
                        "share": {"type": "boolean"},
                        "cumulative": {"type": "boolean"},
                        "rolling": {"type": "integer", "minimum": 1},
                        "sort": {"type": "boolean"},
                        "explain": {"type": "boolean", "description": "/v1/sql: also the backend's plan"},
                        "estimate": {"type": "boolean", "description": "/v1/sql: also the bytes a statement would read (BigQuery)"},
                    },
                },
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
