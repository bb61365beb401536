//! The project's metrics for AI assistants, over MCP (the Model Context Protocol): tools to
//! list and describe metrics, slices and segments, to check which fit together, to compute,
//! and to show the SQL. Served over stdio (`aitaem mcp`) and streamable HTTP (`/mcp` on the
//! server).

use std::sync::Arc;

use aitaem::result::readable::Readable;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::body::ComputeBody;
use crate::error::ApiError;
use crate::openapi;
use crate::ops;
use crate::state::State;

/// The MCP server over a loaded project.
#[derive(Clone)]
pub(crate) struct Metrics {
    state: Arc<State>,
}

impl Metrics {
    pub fn new(state: Arc<State>) -> Metrics {
        Metrics { state }
    }
}

/// A JSON schema object.
fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(object) => Arc::new(object),
        _ => Arc::new(JsonObject::new()),
    }
}

fn no_arguments() -> Arc<JsonObject> {
    schema(json!({"type": "object", "properties": {}}))
}

/// The tools.
fn tools() -> Vec<Tool> {
    let name = schema(json!({
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "description": "a metric, slice or segment name"}},
    }));
    vec![
        Tool::new(
            "list_metrics",
            "The metrics the project declares: name, description, format, and how each is computed (source table, SQL aggregates, filter, timestamp column and entities; or the expression of a derived metric).",
            no_arguments(),
        ),
        Tool::new(
            "list_slices",
            "The slices (breakdowns) the project declares: named predicates, a column's distinct values, or a cross product of other slices.",
            no_arguments(),
        ),
        Tool::new(
            "list_segments",
            "The segments the project declares: classifications of entities (users, platforms, ...) from a dimension table, joined to a metric's rows on a key.",
            no_arguments(),
        ),
        Tool::new(
            "describe",
            "One metric, slice or segment by name, with everything its spec says.",
            name,
        ),
        Tool::new(
            "check_compatibility",
            "Which slices and segments can break down which metrics (a slice fits when the metric's table has its columns; a segment when the table has one of its join keys), with the reason when they do not fit. Optionally for one metric.",
            schema(json!({
                "type": "object",
                "properties": {"metric": {"type": "string", "description": "only this metric's"}},
            })),
        ),
        Tool::new(
            "compute",
            "Compute metrics, optionally broken down by slices and a segment, over a time window, per period and per entity, with comparisons, shares, running and rolling values. Answers a compact table (a row per period, slice value and segment value; a column per metric) and the request it ran.",
            schema(openapi::compute_request(false)),
        ),
        Tool::new(
            "show_sql",
            "The SQL statements a compute would run (one per source table), without running them; `explain` adds each backend's plan.",
            schema(openapi::compute_request(true)),
        ),
    ]
}

/// A tool's answer: the text, or an error the caller reads (`isError`).
fn answer(result: Result<String, ApiError>) -> CallToolResponse {
    match result {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]).into(),
        Err(err) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{}: {}",
            err.kind, err.message
        ))])
        .into(),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A compute's answer: the request it ran, the table, warnings and notices.
fn computed(request: &Value, result: &aitaem::ComputeResult) -> String {
    let mut text = format!(
        "request: {request}\n\n{}",
        Readable::of(result.batches()).render(false)
    );
    for warning in result.warnings() {
        text.push_str(&format!("\nwarning: {warning}"));
    }
    for notice in result.notices() {
        text.push_str(&format!("\nnotice: {notice}"));
    }
    text
}

impl Metrics {
    async fn call(&self, tool: &str, arguments: JsonObject) -> Result<String, ApiError> {
        let text = |key: &str| {
            arguments
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match tool {
            "list_metrics" => Ok(pretty(&ops::list(&self.state, "metrics"))),
            "list_slices" => Ok(pretty(&ops::list(&self.state, "slices"))),
            "list_segments" => Ok(pretty(&ops::list(&self.state, "segments"))),
            "describe" => {
                let name =
                    text("name").ok_or_else(|| ApiError::bad_request("`name` is required"))?;
                Ok(pretty(&ops::describe(&self.state, &name)?))
            }
            "check_compatibility" => Ok(pretty(&ops::scan(&self.state, text("metric")).await?)),
            "compute" => {
                let echo = Value::Object(arguments.clone());
                let request = ComputeBody::from_value(Value::Object(arguments))?.request()?;
                let result = ops::compute(&self.state, request).await?;
                Ok(computed(&echo, &result))
            }
            "show_sql" => {
                let body = ComputeBody::from_value(Value::Object(arguments))?;
                Ok(pretty(&ops::sql(&self.state, body).await?))
            }
            other => Err(ApiError::bad_request(format!("no tool named `{other}`"))),
        }
    }
}

impl ServerHandler for Metrics {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("aitaem", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Metrics declared once in YAML and computed on the project's databases. Start with \
                 list_metrics and list_slices, check which slices and segments fit a metric with \
                 check_compatibility, then compute.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let arguments = request.arguments.unwrap_or_default();
        Ok(answer(self.call(&request.name, arguments).await))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }
}
