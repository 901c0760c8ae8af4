//! Knowing that a read URL is the backend it is configured as, before a verdict leans on it:
//! Loki answers Tempo's `/ready` exactly as Tempo does, and its `404 page not found` to a
//! trace path is not Tempo's "no such trace". The same build-info GETs `doctor` sends
//! (`scan::fingerprint`), asked of the read URL once a read went wrong.

use crate::backends::client::{Answer, ReadClient, join};
use crate::config::Provenance;
use crate::diagnose::scan::fingerprint::{
    LOKI_BUILDINFO, MIMIR_BUILDINFO, PROM_BUILDINFO, TEMPO_BUILDINFO, backends,
};
use crate::diagnose::scan::{ReadKind, Speaks};
use std::collections::BTreeMap;
use std::time::Duration;
use url::Url;

/// What answers at `base`, by the build-info paths of Tempo, Loki, Mimir and Prometheus, each
/// GET bounded by `within`; `None` when nothing recognisable answered.
pub async fn who_answers(client: &ReadClient, base: &Url, within: Duration) -> Option<Speaks> {
    let paths = [
        TEMPO_BUILDINFO,
        LOKI_BUILDINFO,
        PROM_BUILDINFO,
        MIMIR_BUILDINFO,
    ];
    let gets = paths.map(|p| async move {
        let url = join(base, p);
        let answer = tokio::time::timeout(within, client.get(&url, &[], &[])).await;
        (p, answer.ok().and_then(Result::ok))
    });
    let answers: BTreeMap<&'static str, Answer> = futures_util::future::join_all(gets)
        .await
        .into_iter()
        .filter_map(|(p, a)| a.map(|a| (p, a)))
        .collect();
    backends(&answers)
        .into_iter()
        .find(|s| s.backend().is_some())
}

/// When `speaks` is not a `kind`: "http://h:3100/ is Loki 3.6.7, not Tempo: check flag
/// --tempo".
pub fn wrong_backend(
    kind: ReadKind,
    url: &str,
    source: &Provenance,
    speaks: &Speaks,
) -> Option<String> {
    if crate::diagnose::scan::read_verdict::fits(kind, speaks) {
        return None;
    }
    let (name, build) = speaks.backend()?;
    let what = match &build.version {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    };
    Some(format!(
        "{url} is {what}, not {}: check {source}",
        kind.name()
    ))
}
