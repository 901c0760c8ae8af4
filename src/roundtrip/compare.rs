//! `--emitter both`: what differs between the wire emitter's probe and the SDK's. Every
//! difference in where a signal was sent, which setting chose it, the protocol, the tenant
//! and the verdict becomes one sentence a person can act on: "the SDK sent logs to
//! http://localhost:4318/v1/logs, its default because OTEL_EXPORTER_OTLP_LOGS_ENDPOINT and
//! OTEL_EXPORTER_OTLP_ENDPOINT are unset; the wire emitter used the scenario's
//! http://alloy:4319/v1/logs". The 4318-vs-4319 story of incident 1, told in one run.

use super::outcome::{Reason, Status};
use crate::config::Provenance;
use crate::emit::outcome::ExportOutcome;
use crate::signal::Signal;
use serde::Serialize;

/// One thing the two emitters did differently for a signal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub signal: Signal,
    /// `url`, `chosen_by`, `protocol`, `tenant`, `verdict`.
    pub what: &'static str,
    pub wire: String,
    pub sdk: String,
    /// The sentence for people.
    pub text: String,
}

/// One emitter's side of a signal: its export and (for `run`) its verdict.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    pub export: &'a ExportOutcome,
    pub status: Status,
    pub reason: Option<Reason>,
}

/// "its default because X and Y are unset", "from env X", "from flag --x".
fn sdk_why(p: &Provenance) -> String {
    match p {
        Provenance::SdkDefault { unset } if unset.len() == 1 => {
            format!("its default because {} is unset", unset[0])
        }
        Provenance::SdkDefault { unset } if !unset.is_empty() => {
            format!("its default because {} are unset", unset.join(" and "))
        }
        Provenance::SdkDefault { .. } | Provenance::Default => "its default".into(),
        Provenance::Env { name } => format!("from {name}"),
        Provenance::Flag { name } => format!("from flag {name}"),
        Provenance::Scenario { file, key } => format!("from {file} ({key})"),
    }
}

/// "the scenario's", "flag --endpoint's", "OTEL_EXPORTER_OTLP_ENDPOINT's", "its default".
fn wire_whose(p: &Provenance) -> String {
    match p {
        Provenance::Scenario { .. } => "the scenario's".into(),
        Provenance::Flag { name } => format!("flag {name}'s"),
        Provenance::Env { name } => format!("{name}'s"),
        Provenance::Default | Provenance::SdkDefault { .. } => "its default".into(),
    }
}

fn verdict_text(s: &Side<'_>) -> String {
    match (s.status, s.reason) {
        (Status::Ok, _) => "ok".into(),
        (Status::Skipped, _) => "skipped".into(),
        (Status::Failed, Some(r)) => format!("FAILED {r}"),
        (Status::Failed, None) => "FAILED".into(),
    }
}

fn tenant(e: &ExportOutcome) -> Option<String> {
    e.headers
        .iter()
        .find(|h| h.name == "x-scope-orgid")
        .map(|h| h.value.clone())
}

/// Every difference between the emitters, signal by signal (signals only one side sent are
/// named too).
pub fn differences(wire: &[Side<'_>], sdk: &[Side<'_>]) -> Vec<Difference> {
    let mut out = Vec::new();
    for w in wire {
        let signal = w.export.signal;
        let Some(s) = sdk.iter().find(|s| s.export.signal == signal) else {
            out.push(Difference {
                signal,
                what: "verdict",
                wire: verdict_text(w),
                sdk: "not sent".into(),
                text: format!("{signal}: only the wire emitter sent it"),
            });
            continue;
        };
        let (we, se) = (w.export, s.export);
        let plural = signal.plural();
        if we.url.value != se.url.value {
            out.push(Difference {
                signal,
                what: "url",
                wire: we.url.value.to_string(),
                sdk: se.url.value.to_string(),
                text: format!(
                    "{signal}: the SDK sent {plural} to {}, {}; the wire emitter used {} {} ({})",
                    se.url.value,
                    sdk_why(&se.url.source),
                    wire_whose(&we.url.source),
                    we.url.value,
                    we.url.source
                ),
            });
        } else if we.url.source != se.url.source {
            out.push(Difference {
                signal,
                what: "chosen_by",
                wire: we.url.source.to_string(),
                sdk: se.url.source.to_string(),
                text: format!(
                    "{signal}: both sent {plural} to {}, chosen by {} for the wire emitter and \
                     by {} for the SDK",
                    we.url.value, we.url.source, se.url.source
                ),
            });
        }
        if we.protocol.value != se.protocol.value {
            out.push(Difference {
                signal,
                what: "protocol",
                wire: we.protocol.value.to_string(),
                sdk: se.protocol.value.to_string(),
                text: format!(
                    "{signal}: the SDK spoke {} ({}), the wire emitter {} ({})",
                    se.protocol.value, se.protocol.source, we.protocol.value, we.protocol.source
                ),
            });
        }
        let (wt, st) = (tenant(we), tenant(se));
        if wt != st {
            let show = |t: &Option<String>| t.clone().unwrap_or_else(|| "none".into());
            out.push(Difference {
                signal,
                what: "tenant",
                wire: show(&wt),
                sdk: show(&st),
                text: format!(
                    "{signal}: the SDK sent X-Scope-OrgID {}, the wire emitter {}",
                    show(&st),
                    show(&wt)
                ),
            });
        }
        let (wv, sv) = (verdict_text(w), verdict_text(s));
        if wv != sv {
            let text = match (w.status, s.status) {
                (Status::Ok, _) => format!(
                    "{signal}: the wire emitter's {signal} got through, the SDK's did not ({sv})"
                ),
                (_, Status::Ok) => format!(
                    "{signal}: the SDK's {signal} got through, the wire emitter's did not ({wv})"
                ),
                _ => format!("{signal}: verdicts differ: wire {wv}, SDK {sv}"),
            };
            out.push(Difference {
                signal,
                what: "verdict",
                wire: wv,
                sdk: sv,
                text,
            });
        }
    }
    for s in sdk {
        if !wire.iter().any(|w| w.export.signal == s.export.signal) {
            out.push(Difference {
                signal: s.export.signal,
                what: "verdict",
                wire: "not sent".into(),
                sdk: verdict_text(s),
                text: format!("{}: only the SDK sent it", s.export.signal),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sourced;
    use crate::config::emitter::Emitter;
    use crate::config::otlp::{Compression, Protocol};
    use crate::diagnose::error_class::ErrorClass;

    fn export(emitter: Emitter, url: &str, source: Provenance) -> ExportOutcome {
        ExportOutcome {
            signal: Signal::Log,
            emitter,
            url: Sourced::new(url::Url::parse(url).unwrap(), source),
            protocol: Sourced::default_value(Protocol::HttpProtobuf),
            compression: Compression::None,
            headers: Vec::new(),
            payload_bytes: 1,
            bytes_sent: Some(1),
            attempts: Vec::new(),
            sdk: None,
        }
    }

    #[test]
    fn the_4318_vs_4319_story_in_one_sentence() {
        let wire = export(
            Emitter::Wire,
            "http://alloy:4319/v1/logs",
            Provenance::Scenario {
                file: "s.toml".into(),
                key: "export.endpoint".into(),
            },
        );
        let sdk = export(
            Emitter::Sdk,
            "http://localhost:4318/v1/logs",
            Provenance::SdkDefault {
                unset: vec![
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT".into(),
                    "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                ],
            },
        );
        let d = differences(
            &[Side {
                export: &wire,
                status: Status::Ok,
                reason: None,
            }],
            &[Side {
                export: &sdk,
                status: Status::Failed,
                reason: Some(Reason::Export(ErrorClass::ConnectRefused)),
            }],
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].what, "url");
        assert_eq!(
            d[0].text,
            "log: the SDK sent logs to http://localhost:4318/v1/logs, its default because \
             OTEL_EXPORTER_OTLP_LOGS_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT are unset; the \
             wire emitter used the scenario's http://alloy:4319/v1/logs (scenario s.toml \
             (export.endpoint))"
        );
        assert_eq!(d[1].what, "verdict");
        assert_eq!(d[1].sdk, "FAILED connect_refused");
        assert!(
            d[1].text.contains("the wire emitter's log got through"),
            "{}",
            d[1].text
        );
    }
}
