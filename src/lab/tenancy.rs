//! Multi-tenancy as Loki (`auth_enabled`), Mimir (`multitenancy_enabled`) and Tempo do it:
//! when the lab requires a tenant, `X-Scope-OrgID` is mandatory (401 `no org id`) and a query
//! sees only what was written with the same tenant; when it does not, the header is ignored
//! and everything is visible (the single-tenant fixtures).

use super::LabState;
use super::http_util::go_error;
use super::store::Received;
use crate::signal::Signal;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use std::time::SystemTime;

/// Which stored items a request may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantScope {
    /// Single-tenant mode: everything.
    All,
    /// Only items written with one of these tenants.
    Only(Vec<String>),
}

/// Why a request has no usable tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantError {
    /// No (or an empty) `X-Scope-OrgID`.
    Missing,
    /// `a|b`: this many tenants where one is allowed.
    Multiple(usize),
}

/// The scope of a request. `federated` allows `a|b` (Tempo's query-frontend federation).
pub fn scope(
    state: &LabState,
    headers: &HeaderMap,
    federated: bool,
) -> Result<TenantScope, TenantError> {
    if !state.requires_tenant() {
        return Ok(TenantScope::All);
    }
    let raw = headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if raw.is_empty() {
        return Err(TenantError::Missing);
    }
    let ids: Vec<String> = raw
        .split('|')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    match ids.len() {
        0 => Err(TenantError::Missing),
        1 => Ok(TenantScope::Only(ids)),
        _ if federated => Ok(TenantScope::Only(ids)),
        n => Err(TenantError::Multiple(n)),
    }
}

/// The 401 every backend sends without a tenant.
pub fn no_org_id() -> Response {
    go_error(StatusCode::UNAUTHORIZED, "no org id\n")
}

/// Mimir's answer to `a|b` (push and query).
pub fn mimir_too_many(n: usize) -> Response {
    go_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("too many tenant IDs present in the request. max: 1 actual: {n}\n"),
    )
}

impl TenantScope {
    /// Whether an item written by `r.tenant` is visible in this scope.
    pub fn sees(&self, r: &Received) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(ids) => r.tenant.as_ref().is_some_and(|t| ids.contains(t)),
        }
    }
}

/// Which visibility a query needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Trace by id, Loki, Prometheus.
    Query,
    /// Tempo search.
    Search,
}

/// The items of `signal` this scope may read at `now`, oldest first.
pub fn readable(
    state: &LabState,
    signal: Signal,
    scope: &TenantScope,
    now: SystemTime,
    visibility: Visibility,
) -> Vec<Arc<Received>> {
    state
        .store
        .snapshot(signal)
        .into_iter()
        .filter(|r| {
            scope.sees(r)
                && match visibility {
                    Visibility::Query => r.visible(now),
                    Visibility::Search => r.searchable(now),
                }
        })
        .collect()
}
