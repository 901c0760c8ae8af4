//! The `run` report as JSON: schema `otel-canary/run/v1`, documented in docs/json-output.md.
//! Fields are only ever added within a schema version.

use super::RunReport;
use serde::Serialize;

pub const SCHEMA: &str = "otel-canary/run/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a RunReport,
}

/// Renders the report as one JSON document and a newline.
pub fn render(r: &RunReport) -> String {
    let mut s = serde_json::to_string_pretty(&Document {
        schema: SCHEMA,
        report: r,
    })
    .expect("the report always serialises");
    s.push('\n');
    s
}
