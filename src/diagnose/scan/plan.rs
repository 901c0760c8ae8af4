//! What to scan: the usual ports (or `--ports`) of one host, plus every host:port the
//! configured export and read targets and the scenario file name, even on other hosts, so the
//! comparison always has a finding for each configured target. Names are resolved once, each
//! under a timeout, and entries that land on the same address and port are merged.

use super::Budget;
use crate::config::otlp::ExportTarget;
use crate::config::read::ReadTarget;
use crate::config::scenario::Scenario;
use crate::config::{ConfigError, Provenance, Sourced};
use std::collections::BTreeMap;
use std::net::IpAddr;
use url::Url;

/// One address and port to scan, with every name that led to it and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanTarget {
    pub names: Vec<String>,
    /// `None` when the name did not resolve (`error` says why).
    pub address: Option<IpAddr>,
    pub port: u16,
    pub why: Vec<String>,
    pub error: Option<String>,
}

/// A host:port wanted before names are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub host: String,
    pub port: u16,
    pub why: String,
}

/// Lower-case, without IPv6 brackets: how hosts are compared.
pub fn normalise_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// `host:port`, bracketing IPv6 literals.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Checks the HOST argument: a name or an address, not a URL and not `host:port`.
pub fn parse_host(raw: &str) -> Result<String, ConfigError> {
    let bad = |p: String| ConfigError::new("HOST", p);
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(bad("is empty: give a host name or an address".into()));
    }
    if let Some((_, rest)) = trimmed.split_once("://") {
        let host = rest.split(['/', ':']).next().unwrap_or(rest);
        return Err(bad(format!(
            "'{trimmed}' is a URL: give only the host, e.g. `otel-canary doctor {host}`"
        )));
    }
    let host = normalise_host(trimmed);
    if host.parse::<IpAddr>().is_ok() {
        return Ok(host);
    }
    if let Some((h, p)) = host.rsplit_once(':')
        && p.parse::<u16>().is_ok()
    {
        return Err(bad(format!(
            "'{trimmed}' has a port: give the host alone and the port with --ports, e.g. \
             `otel-canary doctor {h} --ports {p}`"
        )));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() > 253 || !host.trim_end_matches('.').split('.').all(label_ok) {
        return Err(bad(format!(
            "'{trimmed}' is neither an IP address nor a valid host name"
        )));
    }
    Ok(host)
}

/// The host to scan and the setting that chose it: HOST if given, else the host of the
/// first configured (non-default) export URL, else 127.0.0.1.
pub fn scan_host(arg: Option<&str>, export: &ExportTarget) -> Result<Sourced<String>, ConfigError> {
    if let Some(raw) = arg {
        return Ok(Sourced::new(parse_host(raw)?, Provenance::flag("HOST")));
    }
    let configured = export
        .signals
        .iter()
        .find(|t| t.url.source != Provenance::Default)
        .and_then(|t| {
            t.url
                .value
                .host_str()
                .map(|h| Sourced::new(normalise_host(h), t.url.source.clone()))
        });
    Ok(configured.unwrap_or_else(|| Sourced::default_value("127.0.0.1".to_string())))
}

fn from_url(url: &Url, why: &str) -> Option<Wanted> {
    Some(Wanted {
        host: normalise_host(url.host_str()?),
        port: url.port_or_known_default()?,
        why: why.to_string(),
    })
}

/// Every host:port to scan: the ports of `host` (`listed` says whether they came from
/// `--ports`), then each configured export and read target, then the URLs written in the
/// scenario file (which flags may have overridden: incident 1's "second config file").
pub fn wanted(
    host: &str,
    ports: &[u16],
    listed: bool,
    export: &ExportTarget,
    read: &ReadTarget,
    scenario: Option<&Scenario>,
) -> Vec<Wanted> {
    let why = if listed { "--ports" } else { "usual" };
    let mut out: Vec<Wanted> = ports
        .iter()
        .map(|&port| Wanted {
            host: host.to_string(),
            port,
            why: why.to_string(),
        })
        .collect();
    for t in &export.signals {
        out.extend(from_url(&t.url.value, &format!("{} export", t.signal)));
    }
    let backends = [
        ("tempo read", read.tempo.as_ref()),
        ("loki read", read.loki.as_ref()),
        (
            match read.metrics.as_ref().map(|(api, _)| *api) {
                Some(crate::config::read::MetricsApi::Prometheus) => "prometheus read",
                _ => "mimir read",
            },
            read.metrics.as_ref().map(|(_, b)| b),
        ),
    ];
    for (why, b) in backends {
        if let Some(b) = b {
            out.extend(from_url(&b.url.value, why));
        }
    }
    if let Some(sc) = scenario {
        let e = &sc.data.export;
        let r = &sc.data.read;
        let urls = [
            &e.endpoint,
            &e.traces_endpoint,
            &e.logs_endpoint,
            &e.metrics_endpoint,
            &r.tempo,
            &r.loki,
            &r.mimir,
            &r.prometheus,
        ];
        for v in urls.into_iter().flatten() {
            if let Ok(url) = Url::parse(v.get_ref()) {
                out.extend(from_url(&url, "scenario"));
            }
        }
    }
    out
}

/// Resolves a name to one address (IPv4 first: what a client on this machine most likely
/// reaches), under the budget's timeout.
async fn resolve_one(host: &str, budget: &Budget) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(budget.resolve, lookup).await {
        Err(_) => Err(format!(
            "no answer from the resolver within {:.1} s",
            budget.resolve.as_secs_f64()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(addrs)) => {
            let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| "the name has no address".to_string())
        }
    }
}

/// Resolves every name at once and merges what lands on the same address and port,
/// keeping the first-wanted order.
pub async fn resolve(wanted: Vec<Wanted>, budget: &Budget) -> Vec<ScanTarget> {
    let mut hosts: Vec<String> = wanted.iter().map(|w| w.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let results =
        futures_util::future::join_all(hosts.iter().map(|h| resolve_one(h, budget))).await;
    let resolved: BTreeMap<&str, Result<IpAddr, String>> =
        hosts.iter().map(String::as_str).zip(results).collect();

    let mut out: Vec<ScanTarget> = Vec::new();
    for w in wanted {
        let (address, error) = match &resolved[w.host.as_str()] {
            Ok(a) => (Some(*a), None),
            Err(e) => (None, Some(e.clone())),
        };
        let same = out.iter_mut().find(|t| {
            t.port == w.port
                && match (t.address, address) {
                    (Some(a), Some(b)) => a == b,
                    _ => t.names.contains(&w.host),
                }
        });
        match same {
            Some(t) => {
                if !t.names.contains(&w.host) {
                    t.names.push(w.host);
                }
                if !t.why.contains(&w.why) {
                    t.why.push(w.why);
                }
            }
            None => out.push(ScanTarget {
                names: vec![w.host],
                address,
                port: w.port,
                why: vec![w.why],
                error,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_argument_rules() {
        assert_eq!(parse_host("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(parse_host("[::1]").unwrap(), "::1");
        assert_eq!(parse_host("Collector.prod").unwrap(), "collector.prod");
        let e = parse_host("http://collector:4318").unwrap_err();
        assert!(e.problem.contains("doctor collector"), "{e}");
        let e = parse_host("collector:4318").unwrap_err();
        assert!(e.problem.contains("--ports 4318"), "{e}");
        for bad in ["", "a b", "-x", "ex ample.com", "x..y", "a/b"] {
            assert!(parse_host(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn same_address_and_port_merge() {
        let w = |host: &str, port, why: &str| Wanted {
            host: host.into(),
            port,
            why: why.into(),
        };
        let got = resolve(
            vec![
                w("127.0.0.1", 4318, "usual"),
                w("127.0.0.1", 4317, "usual"),
                w("localhost", 4318, "trace export"),
                w("no-such-host.invalid", 4318, "log export"),
            ],
            &Budget::default(),
        )
        .await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].names, ["127.0.0.1", "localhost"]);
        assert_eq!(got[0].why, ["usual", "trace export"]);
        assert!(got[2].address.is_none() && got[2].error.is_some());
    }
}
