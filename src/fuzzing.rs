//! The fuzz surface: one entry point per parser of outside input, each feeding raw bytes to
//! the same functions the readers, exporters and config loaders call, and checking invariants
//! that can fail beyond "no panic" (errors carry a message, redacted output never holds the
//! secret, counts add up). `fuzz/` (a separate `cargo fuzz` crate) runs each entry under
//! libFuzzer; `tests/fuzz_corpus.rs` replays the committed corpora (`fuzz/corpus/<target>/`)
//! through the same entries as an ordinary `cargo test`, so both always agree on what a target
//! means. An entry panics (an `assert!`) when an invariant breaks: that is the finding.
//! docs/fuzzing.md lists the targets and how to run them.

use crate::backends::client::{Answer, error_text};
use crate::backends::{grafana, loki, prometheus, self_metrics, tempo};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;
use crate::config::headers::{Header, is_secret_header, parse_header_flag, parse_header_list};
use crate::config::otlp::{ExportFlags, resolve_export_target, tenant};
use crate::config::read::{ReadFlags, resolve_read_target};
use crate::config::resource::{ResourceFlags, ResourceSpec, parse_resource_attributes};
use crate::config::scenario::Scenario;
use crate::diagnose::scan::{ReadKind, fingerprint, identify};
use crate::diagnose::sniff;
use crate::emit::encoding::Encoding;
use crate::emit::response::{decode_partial_success, describe_error_body};
use crate::probe::{Interval, Probe};
use crate::signal::Signal;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use uuid::Uuid;

/// One fuzz target: its name (the `fuzz/fuzz_targets/<name>.rs` file and the
/// `fuzz/corpus/<name>/` directory) and the entry point both the fuzzer and the corpus test
/// call.
pub struct Target {
    pub name: &'static str,
    /// What outside input it stands for.
    pub input: &'static str,
    pub entry: fn(&[u8]),
}

/// Every target, in one place.
pub const TARGETS: &[Target] = &[
    Target {
        name: "tempo_trace",
        input: "Tempo trace-by-id answers (v2 /api/v2/traces, v1 /api/traces)",
        entry: tempo_trace,
    },
    Target {
        name: "tempo_search",
        input: "Tempo search (/api/search) and tag-values answers",
        entry: tempo_search,
    },
    Target {
        name: "tempo_metrics",
        input: "Tempo TraceQL metrics answers (/api/metrics/query_range)",
        entry: tempo_metrics,
    },
    Target {
        name: "loki_query",
        input: "Loki query_range, label and label-values answers",
        entry: loki_query,
    },
    Target {
        name: "prom_query",
        input: "Prometheus, Mimir, VictoriaMetrics and Loki instant-query answers",
        entry: prom_query,
    },
    Target {
        name: "otlp_response",
        input: "OTLP/HTTP export answers (protobuf or JSON, any signal and Content-Type)",
        entry: otlp_response,
    },
    Target {
        name: "rpc_status",
        input: "error bodies: google.rpc.Status protobuf, JSON envelopes, text",
        entry: rpc_status,
    },
    Target {
        name: "metrics_text",
        input: "collector, Alloy and Tempo self-metrics pages (Prometheus text format)",
        entry: metrics_text,
    },
    Target {
        name: "scenario_toml",
        input: "scenario files, parsed and resolved into export and read targets",
        entry: scenario_toml,
    },
    Target {
        name: "otel_headers",
        input: "OTEL_EXPORTER_OTLP_*HEADERS values and --header / --read-header flags",
        entry: otel_headers,
    },
    Target {
        name: "resource_attrs",
        input: "OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME",
        entry: resource_attrs,
    },
    Target {
        name: "otel_env",
        input: "the OTEL_* environment (KEY=VALUE lines) resolved into export and read targets",
        entry: otel_env,
    },
    Target {
        name: "redact_url",
        input: "URLs as typed (flags, env, scenario) and as parsed, shown in output",
        entry: redact_url,
    },
    Target {
        name: "grafana_api",
        input: "Grafana /api/health, /api/datasources and error answers",
        entry: grafana_api,
    },
    Target {
        name: "sniff",
        input: "what a port answers a plain request, build-info and HTML answers",
        entry: sniff,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A probe with fixed ids, so judgements over fuzzed answers are deterministic.
fn fixed_probe() -> Probe {
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    Probe {
        probe_id: Uuid::from_u128(0x6f1c_2d3e_4f50_4617_8293_a4b5_c6d7_e8f9),
        started_at: at,
        trace_id: *b"\x0b\x1c\x2d\x3e\x4f\x50\x61\x72\x83\x94\xa5\xb6\xc7\xd8\xe9\xfa",
        client_span_id: *b"\x11\x22\x33\x44\x55\x66\x77\x88",
        server_span_id: *b"\x99\xaa\xbb\xcc\xdd\xee\xff\x01",
        client_span: Interval { start: at, end: at },
        server_span: Interval { start: at, end: at },
        marker: 1_700_000_000_000.0,
    }
}

fn check_error(what: &str, e: &str) {
    assert!(!e.trim().is_empty(), "{what}: an error without a message");
}

fn check_config_error(what: &str, e: &ConfigError) {
    assert!(
        !e.input.trim().is_empty(),
        "{what}: an error naming no input"
    );
    assert!(
        !e.problem.trim().is_empty(),
        "{what}: an error without a message: {e}"
    );
}

/// Text fit for a terminal: no control characters other than line breaks and tabs.
fn check_printable(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what}: control characters in {s:?}"
    );
}

fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Tempo's by-id answer: spans parse or the error says why; the judgement agrees with the
/// spans (a probe span present is never "absent").
pub fn tempo_trace(data: &[u8]) {
    let probe = fixed_probe();
    match tempo::parse_trace(data) {
        Err(e) => check_error("parse_trace", &e),
        Ok(spans) => {
            assert!(
                serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object()),
                "parse_trace accepted a body that is not a JSON object"
            );
            // Judge against the fixed probe, and against one whose client span is the first
            // span read (so the matching paths run too).
            let mut ours = fixed_probe();
            if let Some(first) = spans.first()
                && let Ok(id) = <[u8; 8]>::try_from(first.span_id.as_slice())
            {
                ours.client_span_id = id;
                if let Some(p) = first.probe_id.as_deref().and_then(|p| p.parse().ok()) {
                    ours.probe_id = p;
                }
            }
            for p in [&probe, &ours] {
                let has_probe_span = spans
                    .iter()
                    .any(|s| s.span_id == p.client_span_id || s.span_id == p.server_span_id);
                match tempo::judge_trace(&spans, p, "v2") {
                    tempo::TraceJudgement::Absent => {
                        assert!(spans.is_empty(), "spans present judged absent")
                    }
                    tempo::TraceJudgement::Complete(seen) => {
                        assert!(has_probe_span);
                        assert_eq!(seen.spans, spans.len());
                    }
                    tempo::TraceJudgement::Partial(m) => {
                        assert!(has_probe_span);
                        check_error("judge_trace", &m);
                    }
                    tempo::TraceJudgement::Mismatch(m) => check_error("judge_trace", &m),
                }
            }
        }
    }
    let text = lossy(data);
    if let Some(id) = tempo::decode_id(text.trim()) {
        let t = text.trim();
        if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            assert_eq!(
                id.len(),
                16,
                "a 32-digit hex id decoded to {} bytes",
                id.len()
            );
        }
    }
}

/// Tempo's search and tag-values answers: ids come back 32+ lowercase hex-padded digits.
pub fn tempo_search(data: &[u8]) {
    match tempo::parse_search(data) {
        Err(e) => check_error("parse_search", &e),
        Ok(ids) => {
            for id in ids {
                assert!(id.chars().count() >= 32, "a trace id shorter than 32: {id}");
                assert!(
                    !id.bytes().any(|b| b.is_ascii_uppercase()),
                    "not lowercase: {id}"
                );
            }
        }
    }
    match tempo::parse_tag_values(data) {
        Err(e) => check_error("parse_tag_values", &e),
        Ok(values) => {
            if !values.is_empty() {
                assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
            }
        }
    }
}

/// TraceQL metrics answers: every sample kept has a timestamp; the error says why.
pub fn tempo_metrics(data: &[u8]) {
    match tempo::parse_query_range(data) {
        Err(e) => check_error("tempo parse_query_range", &e),
        Ok(series) if !series.is_empty() => {
            let v: serde_json::Value =
                serde_json::from_slice(data).expect("a parsed answer is JSON");
            assert_eq!(v["series"].as_array().map(Vec::len), Some(series.len()));
        }
        Ok(_) => {}
    }
    let _ = tempo::is_generator_config_error(&lossy(data));
}

/// Loki's answers: a parsed answer was a `success` with stream results; the entry the probe
/// would match is found when it carries the probe id.
pub fn loki_query(data: &[u8]) {
    match loki::parse_query_range(data) {
        Err(e) => check_error("loki parse_query_range", &e),
        Ok(entries) => {
            let v: serde_json::Value =
                serde_json::from_slice(data).expect("a parsed answer is JSON");
            assert_eq!(v["status"], "success");
            let mut probe = fixed_probe();
            if let Some(first) = entries.first() {
                if let Some(id) = first
                    .get(crate::emit::payload::PROBE_ID_LABEL)
                    .and_then(|p| p.parse().ok())
                {
                    probe.probe_id = id;
                }
                let seen = loki::find_probe_entry(&entries, &probe);
                let id = probe.probe_id.to_string();
                let carries = entries.iter().any(|e| {
                    e.get(crate::emit::payload::PROBE_ID_LABEL) == Some(id.as_str())
                        || e.line.contains(&id)
                });
                assert_eq!(seen.is_some(), carries, "find_probe_entry disagrees");
                if let Some(t) = seen.and_then(|s| s.trace_id) {
                    assert!(!t.bytes().any(|b| b.is_ascii_uppercase()));
                }
            }
            for e in &entries {
                let _ = e.trace_id();
            }
        }
    }
    match loki::parse_string_list(data) {
        Err(e) => check_error("parse_string_list", &e),
        Ok(_) => {
            let v: serde_json::Value =
                serde_json::from_slice(data).expect("a parsed answer is JSON");
            assert_eq!(v["status"], "success");
        }
    }
}

/// PromQL instant-query answers (Prometheus, Mimir, VictoriaMetrics' extra members, Loki's
/// metric queries): a sample equal to the marker is always found.
pub fn prom_query(data: &[u8]) {
    match prometheus::parse_vector(data) {
        Err(e) => check_error("parse_vector", &e),
        Ok(samples) => {
            for marker in [fixed_probe().marker]
                .into_iter()
                .chain(samples.first().map(|s| s.value))
            {
                let hit = samples.iter().any(|s| s.value == marker);
                match prometheus::judge_samples(&samples, None, marker) {
                    Ok(seen) => assert!(hit && seen.value == marker),
                    Err(e) => {
                        assert!(!hit, "the marker sample is there but judged missing");
                        check_error("judge_samples", &e);
                    }
                }
                let newer = samples.iter().any(|s| s.value >= marker);
                match prometheus::judge_scrape_marker(&samples, marker) {
                    Ok(seen) => assert!(newer && seen.value >= marker),
                    Err(e) => {
                        assert!(!newer);
                        check_error("judge_scrape_marker", &e);
                    }
                }
            }
        }
    }
}

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/x-protobuf"),
    Some("application/json"),
    Some("application/octet-stream"),
    Some("text/plain; charset=utf-8"),
    Some("text/html"),
];

/// OTLP export answers: byte 0 picks the signal, request encoding and Content-Type, the rest
/// is the body. An empty body is success; a refused body is named with a bounded quote; a
/// decoded partial success says something.
pub fn otlp_response(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let signal = Signal::ALL[(sel % 3) as usize];
    let request = if sel & 0x08 == 0 {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let ct = CONTENT_TYPES[((sel >> 4) % 6) as usize];
    match decode_partial_success(signal, body, ct, request) {
        Ok(None) => {}
        Ok(Some(p)) => assert!(
            p.rejected != 0 || !p.message.is_empty(),
            "an empty partial success was kept"
        ),
        Err(e) => {
            assert!(!body.is_empty(), "an empty body refused");
            assert!(e.starts_with("the 2xx answer is not an OTLP export response"));
            check_printable("decode_partial_success", &e);
            // The quote is clipped: the error never grows with the body.
            assert!(
                e.chars().count() < 1400,
                "an unbounded error ({} chars)",
                e.len()
            );
        }
    }
}

/// Error bodies: the text shown is bounded and printable, whatever the body holds.
pub fn rpc_status(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[(sel % 6) as usize];
    let text = describe_error_body(body, ct);
    check_printable("describe_error_body", &text);
    assert!(
        text.chars().count() <= 513,
        "unbounded: {} chars",
        text.chars().count()
    );
    if body.is_empty() {
        assert!(text.is_empty());
    }
    let answer = Answer {
        status: 400 + u16::from(sel % 200),
        content_type: ct.map(str::to_string),
        body: bytes::Bytes::copy_from_slice(body),
    };
    let t = error_text(&answer);
    check_error("error_text", &t);
}

/// Self-metrics pages: never fails, counts add up, kept values are finite and non-negative,
/// the series cap holds.
pub fn metrics_text(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let snap = self_metrics::Snapshot::parse_bytes(body, sel & 1 == 1);
    assert!(snap.len() <= self_metrics::MAX_SERIES);
    assert!(snap.skipped_lines <= snap.sample_lines);
    assert!(
        snap.len() + snap.dropped_series <= snap.sample_lines - snap.skipped_lines,
        "more series than readable lines"
    );
    for (key, v) in snap.series() {
        assert!(v.is_finite() && v >= 0.0, "{key:?} = {v}");
        assert!(!key.component.is_empty() || !key.name().is_empty());
    }
    let _ = self_metrics::metrics_url(&lossy(body));
}

/// Header-shaped secrets in free text: the alphanumeric runs (8+ characters, with a digit and
/// a letter: a token's shape, not a word of an error template) of every value that looks
/// secret, unless `public` holds them too.
fn secret_runs(value: &str, public: &str) -> Vec<String> {
    let public = public.to_ascii_lowercase();
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|r| {
            r.len() >= 8
                && r.bytes().any(|b| b.is_ascii_digit())
                && r.bytes().any(|b| b.is_ascii_alphabetic())
        })
        .map(str::to_ascii_lowercase)
        .filter(|r| !public.contains(r.as_str()))
        .collect()
}

/// The secrets in a `k=v,…` list (or one `name=value` / `name: value` flag), read both ways a
/// person might have meant a separator, and the public text (names) beside them.
fn list_secrets(raw: &str) -> (Vec<String>, String) {
    let mut public = String::new();
    let mut values = Vec::new();
    for item in raw.split(',') {
        let first = item.find(['=', ':']);
        if first.is_none() {
            // A bare word names nothing: errors may quote it (cut when long), by design.
            public.push_str(item);
            public.push(' ');
        }
        if let Some(i) = first {
            let (name, value) = (&item[..i], &item[i + 1..]);
            public.push_str(name);
            public.push(' ');
            if is_secret_header(name.trim(), value.trim()) {
                values.push(value.to_string());
            } else if !item.contains('=') || item.find('=') == Some(i) {
                // A plain header's value is shown as it is.
                public.push_str(value);
                public.push(' ');
            }
        }
        if let Some((name, value)) = item.split_once('=')
            && is_secret_header(name.trim(), value.trim())
        {
            values.push(value.to_string());
        }
    }
    let runs = values
        .iter()
        .flat_map(|v| secret_runs(v, &public))
        .collect();
    (runs, public)
}

fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    let lower = text.to_ascii_lowercase();
    for s in secrets {
        assert!(
            !lower.contains(s.as_str()),
            "{what} shows the secret {s:?}: {text}"
        );
    }
}

fn check_headers(what: &str, headers: &[Header]) {
    for h in headers {
        assert!(!h.name.is_empty());
        assert_eq!(
            h.name,
            h.name.to_ascii_lowercase(),
            "header names are lowercase"
        );
        assert!(
            !h.value.contains(['\r', '\n', '\0']),
            "{what}: a line break in a value"
        );
        let shown = h.shown();
        if h.is_secret() {
            let ok = shown.value == "<redacted>"
                || shown
                    .value
                    .strip_suffix(" <redacted>")
                    .is_some_and(|scheme| h.value.split_once(' ').map(|(s, _)| s) == Some(scheme));
            assert!(
                ok,
                "{what}: secret header {} shown as {:?}",
                h.name, shown.value
            );
        } else {
            assert_eq!(shown.value, h.value);
        }
    }
}

/// Header lists and flags: parsed headers are well formed, secrets are masked when shown,
/// and no error message quotes a secret.
pub fn otel_headers(data: &[u8]) {
    let raw = lossy(data);
    let (secrets, _) = list_secrets(&raw);
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        match parse_header_list(&raw, var) {
            Ok(headers) => check_headers(var, &headers),
            Err(e) => {
                check_config_error(var, &e);
                assert_eq!(e.input, var);
                assert_no_secret(var, &e.to_string(), &secrets);
            }
        }
    }
    // One flag: the same text as `--header` takes it.
    let (flag_secrets, _) = list_secrets(&raw.replace(',', ";"));
    match parse_header_flag(&raw, "--header") {
        Ok(h) => check_headers("--header", std::slice::from_ref(&h)),
        Err(e) => {
            check_config_error("--header", &e);
            assert_no_secret("--header", &e.to_string(), &flag_secrets);
        }
    }
    // `--read-header` takes a `tempo:`, `loki:` or `metrics:` prefix before the header (when
    // an `=` follows): what is a name and what a value is judged after it.
    let scoped = ["tempo:", "loki:", "metrics:"]
        .iter()
        .find_map(|p| raw.strip_prefix(p).filter(|rest| rest.contains('=')))
        .unwrap_or(&raw);
    let (read_secrets, _) = list_secrets(&scoped.replace(',', ";"));
    let mut flags = ReadFlags::default();
    flags.headers.push(raw.clone());
    match resolve_read_target(&flags, None, None, &EnvSnapshot::default()) {
        Ok(t) => check_headers("--read-header", &t.headers),
        Err(e) => {
            check_config_error("--read-header", &e);
            assert_no_secret("--read-header", &e.to_string(), &read_secrets);
        }
    }
}

/// Resource attributes: keys are non-empty and unique, later ones win; a resource always has
/// a service name.
pub fn resource_attrs(data: &[u8]) {
    let raw = lossy(data);
    match parse_resource_attributes(&raw) {
        Err(e) => check_error("parse_resource_attributes", &e),
        Ok(attrs) => {
            let mut keys: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
            assert!(keys.iter().all(|k| !k.is_empty()), "an empty key kept");
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n, "a key kept twice");
        }
    }
    let (attrs, name) = raw.split_once('\n').unwrap_or((&raw, ""));
    let env = EnvSnapshot::from_pairs([
        ("OTEL_RESOURCE_ATTRIBUTES", attrs),
        ("OTEL_SERVICE_NAME", name),
    ]);
    match ResourceSpec::resolve(&ResourceFlags::default(), &env) {
        Ok(r) => {
            assert!(!r.service_name.value.is_empty(), "an empty service name");
            assert!(!r.service_instance_id.value.is_empty());
        }
        Err(e) => check_config_error("ResourceSpec::resolve", &e),
    }
}

/// Everything a resolved configuration may show (errors, shown headers, URLs): none of it
/// may hold a secret.
fn check_resolution(
    what: &str,
    env: &EnvSnapshot,
    scenario: Option<Arc<Scenario>>,
    secrets: &[String],
) {
    let flags = ExportFlags {
        scenario: scenario.clone(),
        ..ExportFlags::default()
    };
    match resolve_export_target(&flags, env) {
        Ok(t) => {
            for s in &t.signals {
                check_headers(what, &s.headers);
                let shown = crate::redact::redact_url(&s.url.value);
                assert_no_secret(what, shown.as_str(), secrets);
            }
        }
        Err(e) => {
            check_config_error(what, &e);
            assert_no_secret(what, &e.to_string(), secrets);
        }
    }
    let tenant = match tenant(&flags) {
        Ok(t) => t,
        Err(e) => {
            check_config_error(what, &e);
            None
        }
    };
    match resolve_read_target(&ReadFlags::default(), scenario.as_deref(), tenant, env) {
        Ok(t) => {
            check_headers(what, &t.headers);
            let metrics = t.metrics.as_ref().map(|(_, b)| b);
            for b in [t.tempo.as_ref(), t.loki.as_ref(), metrics]
                .into_iter()
                .flatten()
            {
                check_headers(what, &b.headers);
                assert_no_secret(
                    what,
                    crate::redact::redact_url(&b.url.value).as_str(),
                    secrets,
                );
            }
            if let Some(g) = &t.grafana {
                if let Some(a) = &g.auth {
                    check_headers(what, std::slice::from_ref(a));
                }
                assert_no_secret(what, &g.auth_source(), secrets);
            }
            if scenario.is_some() {
                if let Err(e) =
                    crate::config::assertions::resolve_assertions(scenario.as_deref(), &t)
                {
                    check_config_error(what, &e);
                    assert_no_secret(what, &e.to_string(), secrets);
                }
                if let Err(e) =
                    crate::config::pull::resolve_pull_target(scenario.as_deref(), "fuzz", &t)
                {
                    check_config_error(what, &e);
                    assert_no_secret(what, &e.to_string(), secrets);
                }
            }
        }
        Err(e) => {
            check_config_error(what, &e);
            assert_no_secret(what, &e.to_string(), secrets);
        }
    }
}

/// Secrets of a text that holds `key = "value"` or `KEY=VALUE` settings (a scenario file, an
/// environment): header lists and header tables, token and password values (not `*_file`
/// paths), URL passwords; as the lowercase token-shaped runs the entries look for in output.
pub fn setting_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut public = String::new();
    let mut in_headers = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && !line.contains('=') {
            in_headers = line.contains("headers");
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let key = k.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
        public.push_str(&key);
        public.push(' ');
        let v = v.trim().trim_matches(['"', '\'']);
        if key.contains("header") {
            let inner = v.trim_matches(['{', '}', ' ']).replace(['"', '\''], "");
            let (runs, names) = list_secrets(&inner);
            public.push_str(&names);
            out.extend(runs);
        } else if in_headers {
            if is_secret_header(&key, v) {
                out.extend(secret_runs(v, ""));
            }
        } else if ["token", "password", "secret"]
            .iter()
            .any(|p| key.contains(p))
            && !key.ends_with("_file")
        {
            out.extend(secret_runs(v, ""));
        } else {
            // Any other setting is shown as given, its URL secrets masked.
            public.push_str(&crate::redact::redact_urls_in_text(v).to_ascii_lowercase());
            public.push(' ');
            // A parsed URL's query names, and the values of those not named like secrets, are
            // shown as the parser splits them (which may differ from the text's reading).
            if let Ok(url) = url::Url::parse(v) {
                for (k, value) in url.query_pairs() {
                    public.push_str(&k.to_ascii_lowercase());
                    public.push(' ');
                    if !crate::redact::is_secret_param(&k) {
                        public.push_str(&value.to_ascii_lowercase());
                        public.push(' ');
                    }
                }
            }
        }
        // Words as the product's text redaction splits them: a URL holds no whitespace (a
        // form feed ends a secret query value as a space does), quotes or commas.
        for word in v.split(|c: char| c.is_whitespace() || matches!(c, '"' | ',' | '\'')) {
            for secret in url_secrets(word) {
                out.extend(secret_runs(&secret, ""));
            }
            // A user name is shown (only a password is masked), so it is public.
            let start = word.find("://").map_or(0, |i| i + 3);
            if let Some(at) = word[start..].find('@') {
                let user = &word[start..start + at];
                public.push_str(&user.split(':').next().unwrap_or("").to_ascii_lowercase());
                public.push(' ');
            }
        }
    }
    let public = public.to_ascii_lowercase();
    out.retain(|r| !public.contains(r.as_str()));
    out
}

/// The secrets of URL-shaped text, parsed or not: the userinfo's password and the values of
/// query parameters named like secrets.
fn url_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let start = match (text.find("://"), text.find(['/', '?', '#'])) {
        (Some(i), Some(j)) if j < i => 0,
        (Some(i), _) => i + 3,
        (None, _) => 0,
    };
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    let authority = &text[start..end];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
    {
        out.push(authority[colon + 1..at].to_string());
    }
    // The query runs from the first '?' to the fragment; a '?' inside the fragment starts none.
    let before_fragment = &text[end..text[end..].find('#').map_or(text.len(), |i| end + i)];
    if let Some(q) = before_fragment.find('?') {
        for pair in before_fragment[q + 1..].split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && crate::redact::is_secret_param(k)
            {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// The environment, as `KEY=VALUE` lines: resolution never fails without a message and never
/// shows a secret from `*_HEADERS`, a token or password variable, or a URL's password.
pub fn otel_env(data: &[u8]) {
    let text = lossy(data);
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect();
    let secrets = setting_secrets(&text);
    let env = EnvSnapshot::from_pairs(pairs);
    check_resolution("env", &env, None, &secrets);
    if let Err(e) = ResourceSpec::resolve(&ResourceFlags::default(), &env) {
        check_config_error("env resource", &e);
    }
}

/// Scenario files: a refusal names file and line; an accepted file resolves into targets
/// (or a named error) that never show a secret it holds.
pub fn scenario_toml(data: &[u8]) {
    let text = lossy(data);
    match Scenario::parse("fuzz.toml", text.clone()) {
        Err(e) => {
            check_config_error("Scenario::parse", &e);
            assert!(e.input.starts_with("fuzz.toml:"), "{e}");
        }
        Ok(sc) => {
            let secrets = setting_secrets(&text);
            for (what, r) in [
                ("export.headers", sc.export_headers()),
                ("read.headers", sc.read_headers()),
            ] {
                match r {
                    Ok(h) => check_headers(what, &h),
                    Err(e) => {
                        check_config_error(what, &e);
                        assert_no_secret(what, &e.to_string(), &secrets);
                    }
                }
            }
            if let Err(e) = sc.signals() {
                check_config_error("signals", &e);
            }
            if let Err(e) = crate::config::emitter::resolve_emitter(None, Some(&sc)) {
                check_config_error("emitter", &e);
            }
            check_resolution(
                "scenario",
                &EnvSnapshot::default(),
                Some(Arc::new(sc)),
                &secrets,
            );
        }
    }
}

/// URL redaction: the password and the values of secret-named query parameters never
/// survive, whether the text parses as a URL or not; nothing else changes.
pub fn redact_url(data: &[u8]) {
    use crate::redact::{is_secret_param, redact_url as redact, redact_url_text};
    let raw = lossy(data);
    let shown = redact_url_text(&raw);
    // The textual password: between the userinfo's first ':' and the authority's last '@',
    // the authority starting after a leading `scheme://`.
    let start = match (raw.find("://"), raw.find(['/', '?', '#'])) {
        (Some(i), Some(j)) if j < i => 0,
        (Some(i), _) => i + 3,
        (None, _) => 0,
    };
    let end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    let authority = &raw[start..end];
    let has_password = match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => {
                let kept = format!("{}redacted{}", &raw[..start + colon + 1], &authority[at..]);
                assert!(
                    shown.starts_with(&kept),
                    "the password of {raw:?} shows: {shown:?}"
                );
                true
            }
            None => false,
        },
        None => false,
    };
    if !has_password {
        assert!(shown.starts_with(&raw[..end]), "{raw:?} changed: {shown:?}");
    }
    match raw[end..].find('?') {
        None if !has_password => assert_eq!(shown, raw, "text without secrets changed"),
        None => {}
        Some(_) => {
            let q = &shown[shown.find('?').expect("the query is kept") + 1..];
            let q = q.split('#').next().unwrap_or("");
            for pair in q.split('&') {
                if let Some((k, v)) = pair.split_once('=') {
                    let name = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                    if is_secret_param(&name) {
                        assert_eq!(v, "redacted", "{k} shows in {shown:?}");
                    }
                }
            }
        }
    }
    if let Ok(url) = url::Url::parse(&raw) {
        let r = redact(&url);
        assert!(r.password().is_none_or(|p| p == "redacted"), "{r}");
        assert_eq!(r.host_str(), url.host_str());
        assert_eq!(r.path(), url.path());
        for (k, v) in r.query_pairs() {
            if is_secret_param(&k) {
                assert_eq!(v, "redacted", "{k} shows in {r}");
            }
        }
        // A query value holding a URL may lose that URL's password.
        if url.password().is_none()
            && !url
                .query_pairs()
                .any(|(k, v)| is_secret_param(&k) || k.contains("://") || v.contains("://"))
        {
            assert_eq!(r, url, "a URL without secrets changed");
        }
    }
}

/// Grafana's answers: parsed or refused with a message; discovery finds exactly the
/// datasources of a type.
pub fn grafana_api(data: &[u8]) {
    if let Err(e) = grafana::parse_health(data) {
        check_error("parse_health", &e);
    }
    match grafana::parse_datasources(data) {
        Err(e) => check_error("parse_datasources", &e),
        Ok(list) => {
            for kind in [
                crate::config::grafana::DatasourceKind::Tempo,
                crate::config::grafana::DatasourceKind::Loki,
                crate::config::grafana::DatasourceKind::Metrics,
            ] {
                let n = list
                    .iter()
                    .filter(|d| d.kind == kind.grafana_type())
                    .count();
                match grafana::discover(&list, kind) {
                    grafana::Discovery::Found(d) => {
                        assert_eq!(n, 1);
                        assert_eq!(d.kind, kind.grafana_type());
                    }
                    grafana::Discovery::NoneOfType(all) => {
                        assert_eq!(n, 0);
                        assert_eq!(all.len(), list.len());
                    }
                    grafana::Discovery::Several(some) => {
                        assert!(n > 1);
                        assert_eq!(some.len(), n);
                    }
                }
            }
            for d in &list {
                let _ = d.describe();
            }
        }
    }
    match grafana::parse_datasource(data) {
        Err(e) => check_error("parse_datasource", &e),
        Ok(d) => assert!(!d.describe().is_empty()),
    }
    let _ = grafana::grafana_message(&lossy(data));
}

/// What answers a port and a build-info GET: judgements are total, kept text is printable
/// and bounded.
pub fn sniff(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let judged = sniff::judge_plain_answer(body);
    if sniff::says_https_only(body) && body.starts_with(b"HTTP/1.") {
        assert_eq!(judged, Some(sniff::PortSpeaks::Tls));
    }
    match identify::judge(body, sel & 1 == 1) {
        identify::PlainAnswer::Http1(s) => {
            check_printable("identify", &s);
            assert!(s.chars().count() <= 80);
        }
        identify::PlainAnswer::Other(s) => {
            check_printable("identify", &s);
            assert!(s.chars().count() <= 40);
        }
        identify::PlainAnswer::Closed | identify::PlainAnswer::Silent => assert!(body.is_empty()),
        _ => {}
    }
    let answer = Answer {
        status: if sel & 2 == 0 { 200 } else { 404 },
        content_type: CONTENT_TYPES[((sel >> 2) % 6) as usize].map(str::to_string),
        body: bytes::Bytes::copy_from_slice(body),
    };
    for v in [fingerprint::bare_buildinfo(&answer)].into_iter().flatten() {
        check_printable("bare_buildinfo", &v);
        assert!(v.chars().count() <= 64);
    }
    for kind in [
        ReadKind::Tempo,
        ReadKind::Loki,
        ReadKind::Mimir,
        ReadKind::Prometheus,
    ] {
        if let Some(s) = fingerprint::buildinfo_at(kind, &answer, "/buildinfo")
            && let Some((_, build)) = s.backend()
            && let Some(v) = &build.version
        {
            check_printable("buildinfo_at", v);
            assert!(v.chars().count() <= 64);
        }
    }
    if let Some(Some(v)) = fingerprint::grafana_health(&answer) {
        check_printable("grafana_health", &v);
    }
    if let Some(s) = fingerprint::self_metrics(&answer)
        && let Some((_, build)) = s.backend()
        && let Some(v) = &build.version
    {
        check_printable("self_metrics", v);
    }
    let _ = answer.is_html();
    if let Some(t) = answer.html_title() {
        check_printable("html_title", &t);
        assert!(!t.is_empty() && t.chars().count() <= 80);
    }
    let q = answer.quoted_start();
    check_printable("quoted_start", &q);
    assert!(q.chars().count() <= 124);
}
