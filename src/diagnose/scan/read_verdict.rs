//! Holding a configured read URL (`--tempo`, `--loki`, `--mimir`, `--prometheus`) against the
//! scan: the build-info GET under the URL must answer as the expected backend; if not, the
//! verdict says what is there instead ("--tempo points at :3100, which is Loki") and where the
//! expected backend answers on the same host.

use super::check::ReadCheck;
use super::compare::{finding, neighbours, not_open, tls_mismatch};
use super::fingerprint::buildinfo_at;
use super::http_probe::shorten;
use super::plan::{authority, normalise_host};
use super::{Budget, Mismatch, PortFinding, ReadKind, Speaks, TargetVerdict};
use crate::config::Sourced;
use crate::diagnose::error_class::ErrorClass;
use crate::redact::redact_url;

/// Whether what answered is what a read URL of this kind needs.
pub(crate) fn fits(kind: ReadKind, s: &Speaks) -> bool {
    match kind {
        ReadKind::Tempo => matches!(s, Speaks::Tempo(_)),
        ReadKind::Loki => matches!(s, Speaks::Loki(_)),
        // Both readers speak the PromQL API; VictoriaMetrics serves the /prometheus alias too.
        ReadKind::Mimir => matches!(s, Speaks::Mimir(_) | Speaks::VictoriaMetrics(_)),
        ReadKind::Prometheus => matches!(
            s,
            Speaks::Prometheus(_) | Speaks::VictoriaMetrics(_) | Speaks::Mimir(_)
        ),
    }
}

fn name_version(s: &Speaks) -> String {
    match s.backend() {
        Some((name, b)) => match &b.version {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        },
        None => "something else".to_string(),
    }
}

/// The verdict for one configured read backend.
pub fn read_verdict(c: &ReadCheck, findings: &[PortFinding], budget: &Budget) -> TargetVerdict {
    let url = &c.backend.url.value;
    let src = &c.backend.url.source;
    // Named by its flag when the flag set it, else by what it is.
    let label = match src {
        crate::config::Provenance::Flag { name } => name.clone(),
        _ => format!("the {} read URL", c.kind.name()),
    };
    let shown_url = redact_url(url).to_string();
    let host = normalise_host(url.host_str().unwrap_or(""));
    let port = url.port_or_known_default().unwrap_or(0);
    let hp = authority(&host, port);
    let f = finding(findings, url);
    let path = c.url.path().to_string();
    let answered = match &c.answer {
        Some(Ok(a)) => buildinfo_at(c.kind, a, &path),
        _ => None,
    };
    let check = c.answer.as_ref().map(|r| match r {
        Ok(a) => format!("GET {path}: HTTP {}", a.status),
        Err(e) => shorten(&format!("GET {path}: {e}")),
    });
    let head = format!("{label} points at {shown_url} (chosen by {src})");
    let expected = c.kind.name();
    let elsewhere = || {
        let ports: Vec<String> = neighbours(findings, &host, f, port)
            .filter(|o| o.speaks.iter().any(|s| fits(c.kind, s)))
            .map(|o| format!(":{}", o.port))
            .collect();
        if ports.is_empty() {
            String::new()
        } else {
            format!("; {expected} answers on {}", ports.join(", "))
        }
    };
    let verdict = |ok: bool, reason: Option<Mismatch>, message: String| TargetVerdict {
        kind: "read",
        target: format!("{:?}", c.kind).to_ascii_lowercase(),
        url: Sourced::new(shown_url.clone(), src.clone()),
        protocol: None,
        ok,
        reason,
        message,
        check: check.clone(),
    };
    if let Some(s) = answered.as_ref().filter(|s| fits(c.kind, s)) {
        return verdict(
            true,
            None,
            format!("{head}: {} answers there", name_version(s)),
        );
    }
    if let Some(f) = f {
        if let Some((m, text)) = not_open(f, &host, &hp, budget) {
            return verdict(false, Some(m), format!("{head}, but {text}{}", elsewhere()));
        }
        if let Some((m, text)) = tls_mismatch(f, url, port) {
            return verdict(false, Some(m), format!("{head}, but {text}"));
        }
    }
    match &c.answer {
        Some(Err(e)) if e.class == ErrorClass::TlsHandshake => {
            return verdict(
                false,
                Some(Mismatch::TlsHandshake),
                format!(
                    "{head}, but TLS failed ({}): a self-signed or private certificate needs \
                     --read-ca-cert",
                    shorten(&e.to_string())
                ),
            );
        }
        Some(Ok(a)) if matches!(a.status, 401 | 403) => {
            return verdict(
                false,
                Some(Mismatch::NeedsAuth),
                format!(
                    "{head}, but GET {path} answered HTTP {}: it needs credentials or a tenant \
                     (--tenant, --read-user, --read-token-file)",
                    a.status
                ),
            );
        }
        _ => {}
    }
    let other = answered
        .clone()
        .or_else(|| f.and_then(|f| f.speaks.iter().find(|s| s.backend().is_some()).cloned()));
    if let Some(o) = &other {
        if fits(c.kind, o) {
            return verdict(
                false,
                Some(Mismatch::WrongPath),
                format!(
                    "{head}: {} answers on {hp}, but not under this URL's path ({})",
                    name_version(o),
                    check.as_deref().unwrap_or("no answer")
                ),
            );
        }
        let advice = match (c.kind, o) {
            (ReadKind::Mimir, Speaks::Prometheus(_)) => {
                ": use --prometheus (Prometheus has no /prometheus prefix)".to_string()
            }
            (ReadKind::Prometheus, Speaks::Mimir(_)) => {
                ": use --mimir, which adds Mimir's /prometheus prefix".to_string()
            }
            _ => elsewhere(),
        };
        return verdict(
            false,
            Some(Mismatch::WrongBackend),
            format!("{head}, which is {}{advice}", name_version(o)),
        );
    }
    let (m, text) = match &c.answer {
        None => (
            Mismatch::NoVerdict,
            "no answer before the deadline".to_string(),
        ),
        Some(Ok(a)) => (
            Mismatch::Unrecognised,
            format!(
                "{hp} does not answer like {expected} (GET {path}: HTTP {}){}",
                a.status,
                f.map(|f| format!("; it speaks {}", f.summary()))
                    .unwrap_or_default()
            ),
        ),
        Some(Err(e)) => (
            match e.class {
                ErrorClass::TlsHandshake => Mismatch::TlsHandshake,
                ErrorClass::ConnectRefused => Mismatch::Closed,
                ErrorClass::Dns => Mismatch::Dns,
                ErrorClass::ConnectTimeout => Mismatch::Filtered,
                // Connected, then no answer: not a filtered port, a silent server.
                ErrorClass::Timeout => Mismatch::NoVerdict,
                _ => Mismatch::Unrecognised,
            },
            format!("GET {path} failed: {}", shorten(&e.to_string())),
        ),
    };
    verdict(false, Some(m), format!("{head}, but {text}{}", elsewhere()))
}
