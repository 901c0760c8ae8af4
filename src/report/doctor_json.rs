//! The `doctor` report as JSON: schema `otel-canary/doctor/v1`, documented in
//! docs/json-output.md. Fields are only ever added within a schema version.

use crate::diagnose::scan::DoctorReport;
use serde::Serialize;

pub const SCHEMA: &str = "otel-canary/doctor/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a DoctorReport,
}

/// Renders the report as one JSON document and a newline.
pub fn render(r: &DoctorReport) -> String {
    let mut s = serde_json::to_string_pretty(&Document {
        schema: SCHEMA,
        report: r,
    })
    .expect("the report always serialises");
    s.push('\n');
    s
}
