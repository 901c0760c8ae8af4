//! `serve`'s status page (`/` in a browser): per scenario, its last probe's waterfall (the
//! HTML report's, `report::run_html`), a strip of the last 50 verdicts per lane, p50/p95 per
//! hop estimated from the hop histograms' buckets, and how long ago the scenario last passed.
//! A meta refresh keeps it current without a script; like the report it loads nothing.

use super::history::{LaneHistory, STRIP_LEN, ScenarioHistory};
use super::metrics::{HOP_BUCKETS, HopQuantiles};
use super::state::ServeState;
use crate::report::run_html::{self, badge};
use crate::report::{RunReport, fmt_seconds};
use crate::roundtrip::outcome::Status;
use maud::{Markup, html};
use std::time::{Duration, SystemTime};

/// What the page shows of one scenario.
pub struct ScenarioView<'a> {
    pub name: &'a str,
    pub last: Option<&'a RunReport>,
    pub history: Option<&'a ScenarioHistory>,
    pub quantiles: Vec<HopQuantiles>,
}

/// Everything the page shows, gathered first so rendering is a pure function.
pub struct StatusView<'a> {
    pub scenarios: Vec<ScenarioView<'a>>,
    pub interval: Duration,
    pub started: SystemTime,
    pub now: SystemTime,
}

/// How often the page reloads itself: about once per probe, between 5 s and a minute.
pub fn refresh_seconds(interval: Duration) -> u64 {
    interval.as_secs().clamp(5, 60)
}

/// `/report?scenario=NAME`, the name query-encoded.
pub fn link(path: &str, scenario: &str) -> String {
    let name: String = url::form_urlencoded::byte_serialize(scenario.as_bytes()).collect();
    format!("{path}?scenario={name}")
}

/// `12s ago`, `3m 4s ago`; `just now` under a second; `in the future` for a clock step.
fn ago(now: SystemTime, then: SystemTime) -> String {
    match now.duration_since(then) {
        Ok(d) if d.as_secs() == 0 => "just now".into(),
        Ok(d) => format!(
            "{} ago",
            humantime::format_duration(Duration::from_secs(d.as_secs()))
        ),
        Err(_) => "just now (the clock stepped back)".into(),
    }
}

fn when(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

/// One lane's last probes, oldest to newest, each cell titled with its time and reason.
fn strip(lane: &LaneHistory) -> Markup {
    html! {
        div.strip role="list" aria-label=(format!("last {} probes of {}", lane.marks.len(), lane.label)) {
            @for m in &lane.marks {
                @let verdict = match (m.status, m.reason) {
                    (Status::Failed, Some(r)) => format!("FAILED {r}"),
                    (s, _) => s.to_string(),
                };
                @let took = m.seconds.map(|s| format!(", {}", fmt_seconds(s))).unwrap_or_default();
                @let title = format!("{}: {verdict} (probe {}){took}", when(m.finished), m.probe_id);
                span class=(format!("cell {}", status_class(m.status))) role="listitem"
                    data-status=(status_class(m.status)) title=(title) {
                    (match m.status { Status::Ok => "", Status::Failed => "✕", Status::Skipped => "–" })
                }
            }
        }
    }
}

fn quantile_cell(v: Option<f64>) -> String {
    v.map(|s| format!("≈ {}", fmt_seconds(s)))
        .unwrap_or_else(|| "–".into())
}

fn quantiles(q: &[HopQuantiles]) -> Markup {
    html! {
        @if q.is_empty() {
            p.note { "no hop has completed yet" }
        } @else {
            table.facts.quantiles {
                thead { tr { th { "lane" } th { "hop" } th { "completed" } th { "p50" } th { "p95" } } }
                tbody {
                    @for h in q {
                        @let lane = match h.emitter { Some(e) => format!("{} ({e})", h.signal), None => h.signal.to_string() };
                        tr data-lane=(lane) data-hop=(h.hop) {
                            td { (lane) } td { code { (h.hop) } } td { (h.count) }
                            td.p50 { (quantile_cell(h.p50)) } td.p95 { (quantile_cell(h.p95)) }
                        }
                    }
                }
            }
            p.note {
                "p50 and p95 are estimates from the bucket counts of "
                code { "otel_canary_hop_duration_seconds" }
                " (bounds " (HOP_BUCKETS.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")) " s), "
                "interpolated within a bucket as Prometheus' histogram_quantile does: exact only to the bucket. "
                "Counted since serve started; only completed hops."
            }
        }
    }
}

fn scenario(v: &ScenarioView<'_>, now: SystemTime) -> Markup {
    let status = v
        .last
        .map(|r| if r.ok { Status::Ok } else { Status::Failed });
    let history = v.history;
    html! {
        section.scenario data-scenario=(v.name) data-status=(status.map_or("waiting", status_class)) {
            h2 {
                "scenario " code { (v.name) } " "
                @match status {
                    Some(s) => (badge(s)),
                    None => span.badge.skipped { "… waiting" },
                }
            }
            p {
                @if let Some(h) = history {
                    @let lanes_last = h.lanes.iter().filter_map(|l| l.marks.back()).map(|m| m.finished).max();
                    @if let Some(t) = lanes_last {
                        "last probe finished " span.ago { (ago(now, t)) } " · "
                    }
                    "last success: "
                    span.last-success {
                        @match h.last_success {
                            Some(t) => (ago(now, t)),
                            None => "never since serve started",
                        }
                    }
                    " · " (h.probes) (if h.probes == 1 { " probe" } else { " probes" })
                } @else {
                    "no probe has finished yet"
                }
            }
            nav {
                a href=(link("/report", v.name)) { "HTML report of the last probe" }
                a href=(link("/api/v1/last", v.name)) { "its JSON" }
                a href="/metrics" { "/metrics" }
            }
            @if let Some(h) = history {
                h3 { "Last " (STRIP_LEN) " probes" }
                table.facts.strips {
                    @for lane in &h.lanes {
                        tr data-lane=(lane.label) {
                            th { (lane.label) }
                            td { (strip(lane)) }
                            td.note {
                                "last ok: "
                                @match lane.last_success { Some(t) => (ago(now, t)), None => "never" }
                            }
                        }
                    }
                }
                h3 { "Hop durations" }
                (quantiles(&v.quantiles))
            }
            @if let Some(r) = v.last {
                h3 { "Last probe " code { (r.probe.probe_id) } }
                (run_html::waterfall(r))
            }
        }
    }
}

/// The whole status page.
pub fn render(v: &StatusView<'_>) -> String {
    let refresh = refresh_seconds(v.interval);
    let failing: Vec<&str> = v
        .scenarios
        .iter()
        .filter(|s| s.last.is_some_and(|r| !r.ok))
        .map(|s| s.name)
        .collect();
    let title = if failing.is_empty() {
        "otel-canary serve: ok".to_string()
    } else {
        format!("otel-canary serve: FAILING {}", failing.join(", "))
    };
    let body = html! {
        h1 { "otel-canary serve " (env!("CARGO_PKG_VERSION")) }
        p.note {
            "Probing every " (humantime::format_duration(v.interval)) " · running for "
            (humantime::format_duration(Duration::from_secs(v.now.duration_since(v.started).unwrap_or_default().as_secs())))
            " · this page reloads every " (refresh) " s · " (when(v.now))
        }
        nav {
            a href="/metrics" { "/metrics" }
            a href="/api/v1/last" { "/api/v1/last" }
            a href="/-/healthy" { "/-/healthy" }
            a href="/-/ready" { "/-/ready" }
        }
        (run_html::legend())
        @for s in &v.scenarios {
            (scenario(s, v.now))
        }
    };
    run_html::page(&title, Some(refresh), body)
}

/// The page from `serve`'s live state.
pub fn render_state(state: &ServeState, now: SystemTime) -> String {
    let last = state.last();
    let history = state.history();
    let view = StatusView {
        scenarios: state
            .names()
            .into_iter()
            .map(|name| ScenarioView {
                name,
                last: last.get(name).map(|r| r.as_ref()),
                history: history.get(name),
                quantiles: state.metrics.hop_quantiles(name),
            })
            .collect(),
        interval: state.interval,
        started: state.started,
        now,
    };
    render(&view)
}

/// `/report` before the scenario's first probe has finished: says so, and reloads.
pub fn waiting_page(scenario: &str, interval: Duration) -> String {
    let body = html! {
        h1 { "otel-canary: no report yet" }
        p.waiting {
            "Scenario " code { (scenario) } " has not finished a probe yet. "
            "This page reloads by itself; the first report appears when the first probe ends "
            "(at most its read deadlines after serve started)."
        }
        nav { a href="/" { "status page" } }
    };
    run_html::page(
        &format!("otel-canary {scenario}: no report yet"),
        Some(refresh_seconds(interval)),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{report, signal_outcome};
    use crate::roundtrip::outcome::{Hop, HopName, Reason};
    use crate::signal::Signal;
    use std::time::UNIX_EPOCH;

    fn failing() -> RunReport {
        let evil = "<script>alert('x')</script>\"";
        report(vec![signal_outcome(
            Signal::Log,
            vec![
                Hop::ok(HopName::Export, 0.01),
                Hop::failed(HopName::Ingest, Reason::NotFound, evil),
            ],
        )])
    }

    #[test]
    fn the_page_has_strips_quantiles_links_and_the_waterfall() {
        let r = failing();
        let mut h = ScenarioHistory::default();
        for i in 0..60 {
            h.record(&r, UNIX_EPOCH + Duration::from_secs(i));
        }
        let now = UNIX_EPOCH + Duration::from_secs(90);
        let view = StatusView {
            scenarios: vec![ScenarioView {
                name: "lgtm & co",
                last: Some(&r),
                history: Some(&h),
                quantiles: vec![HopQuantiles {
                    signal: "log",
                    emitter: None,
                    hop: "export",
                    count: 60,
                    p50: Some(0.0075),
                    p95: Some(0.0098),
                }],
            }],
            interval: Duration::from_secs(30),
            started: UNIX_EPOCH,
            now,
        };
        let page = render(&view);
        assert!(page.contains(r#"<meta http-equiv="refresh" content="30">"#));
        assert_eq!(page.matches(r#"class="cell failed""#).count(), STRIP_LEN);
        assert!(
            page.contains("FAILED not_found (probe 8c1b7a52"),
            "title text"
        );
        assert!(
            page.contains("1970-01-01T00:00:59Z"),
            "the newest probe's time"
        );
        assert!(page.contains(r#"href="/report?scenario=lgtm+%26+co""#));
        assert!(page.contains(r#"href="/api/v1/last?scenario=lgtm+%26+co""#));
        assert!(page.contains(r#"href="/metrics""#));
        assert!(page.contains("never since serve started"));
        assert!(page.contains("≈ 7.5 ms") && page.contains("≈ 9.8 ms"));
        assert!(page.contains("estimates from the bucket counts"));
        assert!(
            page.contains(r#"data-lane="log" data-status="failed""#),
            "waterfall"
        );
        assert!(!page.contains("<script"), "escaped");
        assert!(page.contains("FAILING lgtm &amp; co"));
    }

    #[test]
    fn a_scenario_without_a_probe_says_it_is_waiting() {
        let view = StatusView {
            scenarios: vec![ScenarioView {
                name: "default",
                last: None,
                history: None,
                quantiles: Vec::new(),
            }],
            interval: Duration::from_millis(300),
            started: UNIX_EPOCH,
            now: UNIX_EPOCH,
        };
        let page = render(&view);
        assert!(page.contains("no probe has finished yet"));
        assert!(
            page.contains(r#"content="5""#),
            "refresh at least every 5 s"
        );
        let w = waiting_page("a<b", Duration::from_secs(600));
        assert!(w.contains("a&lt;b") && w.contains(r#"content="60""#));
    }

    #[test]
    fn ago_reads_naturally() {
        let t = UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(ago(t, t), "just now");
        assert_eq!(ago(t + Duration::from_millis(12_400), t), "12s ago");
        assert_eq!(ago(t + Duration::from_secs(184), t), "3m 4s ago");
        assert!(ago(t, t + Duration::from_secs(5)).starts_with("just now"));
    }
}
