//! Grafana: its health, its datasources, and the data-proxy base URL of a datasource, so the
//! Tempo, Loki and PromQL readers can read through Grafana unchanged (same queries, same
//! judging), with Grafana's credentials instead of the backend's.
//!
//! Wire facts (grafana/grafana source; docs/grafana.md marks each verified or inferred):
//! - `GET /api/health` needs no auth and answers `{"database":"ok","version":…,"commit":…}`
//!   (pretty-printed; 503 with `"database":"failing"`).
//! - `GET /api/datasources` is a JSON array of `{id, uid, orgId, name, type, typeName, url,
//!   access, basicAuth, isDefault, jsonData, readOnly, …}`; `GET /api/datasources/uid/<uid>`
//!   one object with `secureJsonFields` too, or 404 `{"message":"Data source not found"}`.
//! - `ANY /api/datasources/proxy/uid/<uid>/<path>` forwards `<path>?<query>` to the
//!   datasource's URL with its credentials and custom headers (`jsonData.httpHeaderNameN` /
//!   `secureJsonData.httpHeaderValueN`, e.g. `X-Scope-OrgID`). Grafana's own refusals: 401
//!   (its auth), 403 (permission `datasources:query`), 404 `{"message":"Unable to find
//!   datasource",…}`; the backend's 401 comes back as **400 `Authentication to data source
//!   failed`**, an unreachable backend as 502 with an empty body, a slow one as 504.

use super::client::{QueryError, ReadClient, join};
use crate::config::grafana::DatasourceKind;
use crate::diagnose::error_class::ErrorClass;
use serde::Serialize;
use serde_json::Value;
use url::Url;

/// What `/api/health` said.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// `ok` or `failing` (Grafana's own database).
    pub database: String,
    /// Absent when Grafana hides its version from anonymous callers.
    pub version: Option<String>,
    pub commit: Option<String>,
}

/// Parses an `/api/health` body.
pub fn parse_health(body: &[u8]) -> Result<Health, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let database = v
        .get("database")
        .and_then(Value::as_str)
        .ok_or("no \"database\" member: not Grafana's /api/health")?
        .to_string();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Health {
        database,
        version: text("version"),
        commit: text("commit"),
    })
}

/// A custom header a datasource sends (`jsonData.httpHeaderNameN`); Grafana never returns the
/// value, only whether one is stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomHeader {
    pub name: String,
    /// `secureJsonFields.httpHeaderValueN`: `None` where the answer does not say (the list).
    pub value_set: Option<bool>,
}

/// One datasource as Grafana describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Datasource {
    pub uid: String,
    pub name: String,
    /// The plugin id: `tempo`, `loki`, `prometheus`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Where Grafana sends proxied requests (empty for some plugins).
    pub url: String,
    pub is_default: bool,
    /// Grafana sends its own basic auth (`basicAuthUser`) to the backend.
    pub basic_auth: bool,
    pub headers: Vec<CustomHeader>,
}

impl Datasource {
    /// The custom header `name` (case-insensitive), if the datasource sends one.
    pub fn header(&self, name: &str) -> Option<&CustomHeader> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// `` `loki` (Loki, http://loki:3100) ``: how hints name it.
    pub fn describe(&self) -> String {
        let url = if self.url.is_empty() {
            "no URL"
        } else {
            &self.url
        };
        format!("`{}` ({}, {url})", self.uid, self.name)
    }
}

fn datasource_of(v: &Value) -> Option<Datasource> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let uid = v.get("uid").and_then(Value::as_str)?.to_string();
    let kind = v.get("type").and_then(Value::as_str)?.to_string();
    let json_data = v.get("jsonData");
    let secure = v.get("secureJsonFields").and_then(Value::as_object);
    let mut headers = Vec::new();
    for i in 1.. {
        let Some(name) = json_data
            .and_then(|j| j.get(format!("httpHeaderName{i}")))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            break;
        };
        headers.push(CustomHeader {
            name: name.to_string(),
            value_set: secure.map(|s| {
                s.get(&format!("httpHeaderValue{i}"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            }),
        });
    }
    Some(Datasource {
        uid,
        name: text("name"),
        kind,
        url: text("url"),
        is_default: flag("isDefault"),
        basic_auth: flag("basicAuth"),
        headers,
    })
}

/// Parses `/api/datasources` (an array).
pub fn parse_datasources(body: &[u8]) -> Result<Vec<Datasource>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let items = v
        .as_array()
        .ok_or("not a JSON array: not Grafana's /api/datasources")?;
    Ok(items.iter().filter_map(datasource_of).collect())
}

/// Parses `/api/datasources/uid/<uid>` (one object).
pub fn parse_datasource(body: &[u8]) -> Result<Datasource, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    datasource_of(&v).ok_or_else(|| "no uid and type: not a Grafana datasource".to_string())
}

/// The result of looking for the datasource of a kind by its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Discovery {
    Found(Datasource),
    /// None of that type; these are the datasources there are.
    NoneOfType(Vec<Datasource>),
    /// Several of that type: the user must name one.
    Several(Vec<Datasource>),
}

/// Finds the one datasource of `kind`'s type in `list`.
pub fn discover(list: &[Datasource], kind: DatasourceKind) -> Discovery {
    let of_type: Vec<Datasource> = list
        .iter()
        .filter(|d| d.kind == kind.grafana_type())
        .cloned()
        .collect();
    match of_type.len() {
        0 => Discovery::NoneOfType(list.to_vec()),
        1 => Discovery::Found(of_type.into_iter().next().expect("one")),
        _ => Discovery::Several(of_type),
    }
}

/// The `message` of a Grafana JSON error answer, else the text.
pub fn grafana_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

/// One Grafana instance, through one client carrying Grafana's credentials.
#[derive(Clone, Debug)]
pub struct GrafanaClient {
    client: ReadClient,
    base: Url,
}

impl GrafanaClient {
    /// `client` must carry Grafana's `Authorization` only: never a tenant header, which Grafana
    /// would forward and so hide a datasource that lacks its own.
    pub fn new(client: ReadClient, base: Url) -> GrafanaClient {
        GrafanaClient { client, base }
    }

    /// The client, for readers reading through the proxy.
    pub fn client(&self) -> &ReadClient {
        &self.client
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Where a datasource's backend API is reached through Grafana: the readers join their
    /// usual paths (`api/v2/traces/<id>`, `loki/api/v1/query_range`, `api/v1/query`) onto it.
    pub fn proxy_base(&self, uid: &str) -> Url {
        join(&self.base, &format!("api/datasources/proxy/uid/{uid}"))
    }

    /// `GET /api/health`.
    pub async fn health(&self) -> Result<Health, QueryError> {
        let url = join(&self.base, "api/health");
        let answer = self.client.get(&url, &[], &[]).await?;
        let parsed = parse_health(&answer.body);
        match (answer.is_success(), parsed) {
            (true, Ok(h)) => Ok(h),
            (false, Ok(h)) => Err(self.client.error(
                ErrorClass::HttpStatus,
                Some(answer.status),
                &format!("database {}", h.database),
                &url,
            )),
            (_, Err(e)) => Err(self.client.error(
                if answer.is_success() {
                    ErrorClass::Body
                } else {
                    ErrorClass::HttpStatus
                },
                Some(answer.status),
                &format!("{e}: {}", clip(&answer.text())),
                &url,
            )),
        }
    }

    /// `GET /api/datasources` (needs `datasources:read`).
    pub async fn datasources(&self) -> Result<Vec<Datasource>, QueryError> {
        let url = join(&self.base, "api/datasources");
        let answer = self.get_ok(&url).await?;
        parse_datasources(&answer.body)
            .map_err(|e| self.client.unusable(&answer, &url, "Grafana", &e))
    }

    /// `GET /api/datasources/uid/<uid>`: `Ok(None)` when Grafana has no such datasource.
    pub async fn datasource(&self, uid: &str) -> Result<Option<Datasource>, QueryError> {
        let url = join(&self.base, &format!("api/datasources/uid/{uid}"));
        let answer = self.client.get(&url, &[], &[]).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if !answer.is_success() {
            return Err(self.client.error(
                ErrorClass::HttpStatus,
                Some(answer.status),
                &grafana_message(&answer.text()),
                &url,
            ));
        }
        parse_datasource(&answer.body)
            .map(Some)
            .map_err(|e| self.client.unusable(&answer, &url, "Grafana", &e))
    }

    async fn get_ok(&self, url: &Url) -> Result<super::client::Answer, QueryError> {
        let answer = self.client.get(url, &[], &[]).await?;
        if answer.is_success() {
            Ok(answer)
        } else {
            Err(self.client.error(
                ErrorClass::HttpStatus,
                Some(answer.status),
                &grafana_message(&answer.text()),
                url,
            ))
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[{"id":2,"uid":"loki","orgId":1,"name":"Loki","type":"loki","typeName":"Loki","typeLogoUrl":"public/app/plugins/datasource/loki/img/loki_icon.svg","access":"proxy","url":"http://loki:3100","user":"","database":"","basicAuth":false,"isDefault":false,"jsonData":{"httpHeaderName1":"X-Scope-OrgID"},"readOnly":true},
{"id":3,"uid":"mimir","orgId":1,"name":"Mimir","type":"prometheus","typeName":"Prometheus","typeLogoUrl":"","access":"proxy","url":"http://mimir:9009/prometheus","user":"","database":"","basicAuth":true,"isDefault":true,"jsonData":{"httpMethod":"GET"},"readOnly":false},
{"id":4,"uid":"prom","orgId":1,"name":"Prometheus","type":"prometheus","typeName":"Prometheus","typeLogoUrl":"","access":"proxy","url":"http://prometheus:9090","user":"","database":"","basicAuth":false,"isDefault":false,"readOnly":false}]"#;

    #[test]
    fn parses_grafanas_answers() {
        let h = parse_health(
            b"{\n  \"database\": \"ok\",\n  \"version\": \"12.1.0\",\n  \"commit\": \"abc\"\n}",
        )
        .unwrap();
        assert_eq!(h.database, "ok");
        assert_eq!(h.version.as_deref(), Some("12.1.0"));
        let hidden = parse_health(b"{\"database\":\"ok\"}").unwrap();
        assert_eq!(hidden.version, None);
        assert!(parse_health(b"<html>").is_err());
        assert!(parse_health(b"{\"status\":\"success\"}").is_err());

        let list = parse_datasources(LIST.as_bytes()).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].uid, "loki");
        assert_eq!(list[0].kind, "loki");
        assert_eq!(list[0].url, "http://loki:3100");
        assert_eq!(
            list[0].header("x-scope-orgid"),
            Some(&CustomHeader {
                name: "X-Scope-OrgID".into(),
                value_set: None
            })
        );
        assert!(list[1].is_default && list[1].basic_auth);
        assert!(list[2].headers.is_empty());
        assert!(parse_datasources(b"{\"message\":\"Unauthorized\"}").is_err());

        let one = parse_datasource(
            br#"{"id":2,"uid":"loki","orgId":1,"name":"Loki","type":"loki","url":"http://loki:3100","jsonData":{"httpHeaderName1":"X-Scope-OrgID","httpHeaderName2":"X-Extra"},"secureJsonFields":{"httpHeaderValue1":true},"version":1,"readOnly":true}"#,
        )
        .unwrap();
        assert_eq!(one.headers.len(), 2);
        assert_eq!(one.headers[0].value_set, Some(true));
        assert_eq!(one.headers[1].value_set, Some(false));
        assert_eq!(one.describe(), "`loki` (Loki, http://loki:3100)");
    }

    #[test]
    fn discovery_by_type_names_every_candidate() {
        let list = parse_datasources(LIST.as_bytes()).unwrap();
        match discover(&list, DatasourceKind::Loki) {
            Discovery::Found(d) => assert_eq!(d.uid, "loki"),
            other => panic!("{other:?}"),
        }
        match discover(&list, DatasourceKind::Metrics) {
            Discovery::Several(ds) => {
                let uids: Vec<&str> = ds.iter().map(|d| d.uid.as_str()).collect();
                assert_eq!(uids, ["mimir", "prom"]);
            }
            other => panic!("{other:?}"),
        }
        match discover(&list, DatasourceKind::Tempo) {
            Discovery::NoneOfType(all) => assert_eq!(all.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_messages_come_from_grafanas_envelope() {
        assert_eq!(
            grafana_message("{\"message\":\"Unable to find datasource\",\"traceID\":\"\"}\n"),
            "Unable to find datasource"
        );
        assert_eq!(
            grafana_message("Authentication to data source failed"),
            "Authentication to data source failed"
        );
    }

    #[test]
    fn proxy_base_keeps_a_sub_path() {
        let c = ReadClient::new(
            &Url::parse("http://g:3000").unwrap(),
            Vec::new(),
            &Default::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let g = GrafanaClient::new(c.clone(), Url::parse("http://g:3000/grafana/").unwrap());
        assert_eq!(
            join(&g.proxy_base("loki"), "loki/api/v1/query_range").as_str(),
            "http://g:3000/grafana/api/datasources/proxy/uid/loki/loki/api/v1/query_range"
        );
    }
}
