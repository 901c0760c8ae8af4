//! The shipped Docker and Kubernetes files (docker/), held against each other, against the
//! scenarios, and against the real validators:
//!
//! - in Rust: the ports `scenarios/local-lgtm.toml` (and the other shipped scenarios) name
//!   are the ones docker/compose.yaml publishes, and each is the port the service's own
//!   config listens on; every service-to-service URL names a service and a port it listens
//!   on; every file the compose files mount exists and parses; the dashboard's datasource
//!   UIDs are the provisioned ones; Tempo's metrics-generator is on for every tenant; the
//!   faults overlay breaks exactly the logs pipeline; the scenarios load;
//! - with the tools `.ci/install-tools` puts in its cache: `docker-compose config -q` on every
//!   compose file, `kubectl kustomize` of docker/k8s rendered and validated by
//!   `kubernetes-validate --strict` against Kubernetes 1.29 and 1.37 (each validator first
//!   shown to reject a broken input), the rendered manifests' CronJob, probes, security
//!   context and Secret use, and docker/Dockerfile parsed by `dockerfile-parse`.
//!
//! A missing tool is a panic naming the script, never a skip.

use otel_canary::config::scenario::Scenario;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ---- files ---------------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A YAML file as JSON values (every document the tests read is one mapping).
fn yaml(path: &str) -> Value {
    let text = read(path);
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn toml_file(path: &str) -> toml::Value {
    toml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not TOML: {e}"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn port_of(addr: &str) -> u16 {
    let p = addr.rsplit(':').next().unwrap();
    p.parse()
        .unwrap_or_else(|_| panic!("'{addr}' does not end in a port"))
}

// ---- the compose file's view of the stack ---------------------------------------------------

const COMPOSE: &str = "docker/compose.yaml";
const FAULTS: &str = "docker/compose.faults.yaml";

/// Host port -> (service, container port), from `ports:` entries like "127.0.0.1:4318:4318".
fn published(compose: &Value) -> BTreeMap<u16, (String, u16)> {
    let mut out = BTreeMap::new();
    for (name, svc) in compose["services"].as_object().unwrap() {
        for p in svc["ports"].as_array().into_iter().flatten() {
            let spec = p
                .as_str()
                .unwrap_or_else(|| panic!("{name}: long-form port {p}"));
            let parts: Vec<&str> = spec.split(':').collect();
            let (host_ip, host, container) = match parts.as_slice() {
                [ip, h, c] => (*ip, *h, *c),
                [h, c] => ("", *h, *c),
                _ => panic!("{name}: port '{spec}' is not [IP:]HOST:CONTAINER"),
            };
            assert!(
                host_ip == "127.0.0.1",
                "{name}: {spec} is published beyond loopback; the stack has no authentication"
            );
            let host: u16 = host.parse().unwrap();
            let container: u16 = container.trim_end_matches("/tcp").parse().unwrap();
            let before = out.insert(host, (name.clone(), container));
            assert!(before.is_none(), "host port {host} published twice");
        }
    }
    out
}

/// The container ports each service's own configuration listens on.
fn listening() -> BTreeMap<&'static str, BTreeSet<u16>> {
    let collector = yaml("docker/collector/config.yaml");
    let mut col = BTreeSet::new();
    for (name, r) in collector["receivers"].as_object().unwrap() {
        for proto in ["grpc", "http"] {
            if let Some(ep) = r.pointer(&format!("/protocols/{proto}/endpoint")) {
                let ep = ep.as_str().unwrap();
                assert!(
                    ep.starts_with("0.0.0.0:"),
                    "receiver {name} {proto} listens on {ep}: other containers cannot reach it"
                );
                col.insert(port_of(ep));
            }
        }
    }
    let prom = &collector["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"];
    assert_eq!(
        prom["host"], "0.0.0.0",
        "the collector's own metrics must be reachable"
    );
    col.insert(prom["port"].as_u64().unwrap() as u16);
    col.insert(port_of(str_at(
        &collector,
        "/extensions/health_check/endpoint",
    )));

    let tempo = yaml("docker/tempo/tempo.yaml");
    let mut tem = BTreeSet::from([tempo["server"]["http_listen_port"].as_u64().unwrap() as u16]);
    for proto in ["grpc", "http"] {
        let ep = str_at(
            &tempo,
            &format!("/distributor/receivers/otlp/protocols/{proto}/endpoint"),
        );
        tem.insert(port_of(ep));
    }
    let loki = yaml("docker/loki/loki.yaml");
    let mimir = yaml("docker/mimir/mimir.yaml");
    BTreeMap::from([
        ("collector", col),
        ("tempo", tem),
        (
            "loki",
            BTreeSet::from([loki["server"]["http_listen_port"].as_u64().unwrap() as u16]),
        ),
        (
            "mimir",
            BTreeSet::from([mimir["server"]["http_listen_port"].as_u64().unwrap() as u16]),
        ),
        // Grafana's default http_port; serve's default --listen (:9464, src/cli.rs).
        ("grafana", BTreeSet::from([3000])),
        ("otel-canary", BTreeSet::from([9464])),
    ])
}

/// `http://host:port/...` -> (host, port).
fn host_port(url: &str) -> (String, u16) {
    let u = url::Url::parse(url).unwrap_or_else(|e| panic!("'{url}': {e}"));
    (
        u.host_str().unwrap().to_string(),
        u.port_or_known_default().unwrap(),
    )
}

/// A URL that one service uses to reach another inside the compose network: the host is a
/// service, and that service's config listens on the port.
fn assert_reaches_a_service(url: &str, what: &str) {
    let (host, port) = host_port(url);
    let listens = listening();
    let ports = listens.get(host.as_str()).unwrap_or_else(|| {
        panic!("{what}: {url} names '{host}', which is no service of {COMPOSE}")
    });
    assert!(
        ports.contains(&port),
        "{what}: {url} goes to {host}:{port}, but {host} listens on {ports:?}"
    );
}

/// Every URL in a shipped scenario reaches, through a published port, the service whose
/// config listens there.
fn assert_scenario_fits_published_ports(path: &str, needs: &[(&str, &str)]) {
    let sc = toml_file(path);
    let ports = published(&yaml(COMPOSE));
    let listens = listening();
    for (key, service) in needs {
        let mut v = &sc;
        for part in key.split('.') {
            v = v.get(part).unwrap_or_else(|| panic!("{path}: no {key}"));
        }
        let url = v.as_str().unwrap();
        let (host, port) = host_port(url);
        assert_eq!(host, "localhost", "{path}: {key} = {url}");
        let (svc, container) = ports.get(&port).unwrap_or_else(|| {
            panic!("{path}: {key} = {url}, but {COMPOSE} publishes no port {port}")
        });
        assert_eq!(
            svc, service,
            "{path}: {key} = {url} reaches service {svc}, not {service}"
        );
        assert!(
            listens[svc.as_str()].contains(container),
            "{path}: {key} = {url} reaches {svc}:{container}, which its config does not listen on ({:?})",
            listens[svc.as_str()]
        );
    }
}

#[test]
fn local_lgtm_works_against_compose_up_unchanged() {
    assert_scenario_fits_published_ports(
        "scenarios/local-lgtm.toml",
        &[
            ("export.endpoint", "collector"),
            ("read.tempo", "tempo"),
            ("read.loki", "loki"),
            ("read.mimir", "mimir"),
        ],
    );
    // The incident-1 replay: the scenario for split receivers, and the second receiver.
    assert_scenario_fits_published_ports(
        "scenarios/alloy-split-receivers.toml",
        &[
            ("export.endpoint", "collector"),
            ("read.tempo", "tempo"),
            ("read.loki", "loki"),
            ("read.mimir", "mimir"),
        ],
    );
    let ports = published(&yaml(COMPOSE));
    for (port, service) in [
        (4317, "collector"),
        (4318, "collector"),
        (4319, "collector"),
        (8888, "collector"),
        (3200, "tempo"),
        (3100, "loki"),
        (9009, "mimir"),
        (3000, "grafana"),
        (9464, "otel-canary"),
    ] {
        let (svc, container) = &ports[&port];
        assert_eq!((svc.as_str(), *container), (service, port), "port {port}");
        assert!(
            listening()[service].contains(&port),
            "{service} listens on {port}"
        );
    }
    // Mimir's query prefix is added by the canary: the scenario names the bare base URL.
    let sc = toml_file("scenarios/local-lgtm.toml");
    assert_eq!(sc["read"]["mimir"].as_str(), Some("http://localhost:9009"));
}

#[test]
fn services_reach_each_other_on_ports_they_listen_on() {
    let collector = yaml("docker/collector/config.yaml");
    let exporters = collector["exporters"].as_object().unwrap();
    let endpoint = |name: &str| {
        exporters[name]["endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("exporter {name} has no endpoint"))
            .to_string()
    };
    // gRPC endpoints are host:port.
    assert_reaches_a_service(
        &format!("http://{}", endpoint("otlp_grpc/tempo")),
        "otlp_grpc/tempo",
    );
    assert_eq!(
        exporters["otlp_grpc/tempo"]["tls"]["insecure"], true,
        "Tempo's OTLP gRPC is plain text here"
    );
    let loki = endpoint("otlp_http/loki");
    assert_reaches_a_service(&loki, "otlp_http/loki");
    assert!(
        loki.ends_with("/otlp"),
        "Loki's OTLP path is /otlp/v1/logs: {loki}"
    );
    let mimir_otlp = endpoint("otlp_http/mimir");
    assert_reaches_a_service(&mimir_otlp, "otlp_http/mimir");
    assert!(mimir_otlp.ends_with("/otlp"), "{mimir_otlp}");
    let prw = endpoint("prometheusremotewrite/mimir");
    assert_reaches_a_service(&prw, "prometheusremotewrite/mimir");
    assert!(prw.ends_with("/api/v1/push"), "{prw}");

    // The collector scrapes serve's /metrics (and its own page) for Mimir.
    let jobs = collector["receivers"]["prometheus"]["config"]["scrape_configs"]
        .as_array()
        .unwrap();
    let canary = jobs
        .iter()
        .find(|j| j["job_name"] == "otel-canary")
        .expect("a scrape job for the canary");
    let target = canary["static_configs"][0]["targets"][0].as_str().unwrap();
    assert_reaches_a_service(
        &format!("http://{target}/metrics"),
        "scrape job otel-canary",
    );
    // The alert rules find the canary by this job name (docker/prometheus/otel-canary-alerts.yaml).
    assert!(
        read("docker/prometheus/otel-canary-alerts.yaml").contains(r#"up{job=~".*otel-canary.*"}"#)
    );

    let tempo = yaml("docker/tempo/tempo.yaml");
    for rw in tempo["metrics_generator"]["storage"]["remote_write"]
        .as_array()
        .unwrap()
    {
        let url = rw["url"].as_str().unwrap();
        assert_reaches_a_service(url, "Tempo remote_write");
        assert!(url.ends_with("/api/v1/push"), "{url}");
    }

    for ds in yaml("docker/grafana/provisioning/datasources/datasources.yaml")["datasources"]
        .as_array()
        .unwrap()
    {
        assert_reaches_a_service(
            ds["url"].as_str().unwrap(),
            &format!("datasource {}", ds["uid"]),
        );
    }

    // The in-network scenario used by serve and the one-shot run.
    let sc = toml_file("docker/scenarios/compose-lgtm.toml");
    for key in [
        "tempo",
        "loki",
        "mimir",
        "collector_metrics",
        "tempo_metrics",
    ] {
        assert_reaches_a_service(sc["read"][key].as_str().unwrap(), &format!("read.{key}"));
    }
    let export = sc["export"]["endpoint"].as_str().unwrap();
    assert_reaches_a_service(export, "export.endpoint");
}

#[test]
fn every_mounted_file_exists_and_parses() {
    let docker = repo().join("docker");
    let mut checked = 0;
    for file in [COMPOSE, FAULTS] {
        let compose = yaml(file);
        for (name, svc) in compose["services"].as_object().unwrap() {
            for v in svc["volumes"].as_array().into_iter().flatten() {
                let spec = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: long-form volume {v}"));
                let source = spec.split(':').next().unwrap();
                if !source.starts_with('.') {
                    // A named volume: declared at the top level.
                    assert!(
                        yaml(COMPOSE)["volumes"].get(source).is_some(),
                        "{file}: {name} mounts undeclared volume {source}"
                    );
                    continue;
                }
                let path = docker.join(source);
                assert!(
                    path.exists(),
                    "{file}: {name} mounts {source}, which does not exist"
                );
                assert!(
                    spec.ends_with(":ro"),
                    "{file}: {name} mounts {source} writable"
                );
                let files: Vec<PathBuf> = if path.is_dir() {
                    std::fs::read_dir(&path)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .collect()
                } else {
                    vec![path.clone()]
                };
                assert!(!files.is_empty(), "{source} is an empty directory");
                for f in files {
                    parse_by_extension(&f);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} mounted files seen");
}

fn parse_by_extension(f: &Path) {
    let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    match f.extension().and_then(|e| e.to_str()) {
        Some("yaml") | Some("yml") => {
            let docs = yaml_docs(&text, &f.display().to_string());
            assert!(!docs.is_empty(), "{}: no YAML document", f.display());
        }
        Some("json") => {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", f.display()));
        }
        Some("toml") => {
            Scenario::parse(&f.display().to_string(), text)
                .unwrap_or_else(|e| panic!("{} is not a valid scenario: {e}", f.display()));
        }
        other => panic!("{}: no parser for {other:?}", f.display()),
    }
}

#[test]
fn the_shipped_scenarios_for_compose_and_kubernetes_load() {
    for path in [
        "docker/scenarios/compose-lgtm.toml",
        "docker/k8s/base/scenarios/lgtm.toml",
    ] {
        let full = repo().join(path);
        Scenario::load(full.to_str().unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let sc = toml_file("docker/scenarios/compose-lgtm.toml");
    assert_eq!(
        sc["pull"]["scrape"].as_bool(),
        Some(true),
        "serve proves the scrape path"
    );
}

// ---- Grafana ---------------------------------------------------------------------------------

/// Every `datasource` object anywhere in the dashboard.
fn datasource_refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = format!("{at}/{k}");
                if k == "datasource" && child.is_object() {
                    out.push((here.clone(), child));
                }
                datasource_refs(child, here, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                datasource_refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn dashboard_datasource_uids_are_the_provisioned_ones() {
    let prov = yaml("docker/grafana/provisioning/datasources/datasources.yaml");
    let mut by_uid: BTreeMap<String, Value> = BTreeMap::new();
    for ds in prov["datasources"].as_array().unwrap() {
        let uid = ds["uid"]
            .as_str()
            .expect("every datasource has a fixed uid")
            .to_string();
        assert!(
            by_uid.insert(uid.clone(), ds.clone()).is_none(),
            "uid {uid} twice"
        );
    }
    // The UIDs other tools (otel-canary's Grafana checks, alert rules) rely on.
    let fixed = [
        ("mimir", "prometheus", "http://mimir:9009/prometheus"),
        ("tempo", "tempo", "http://tempo:3200"),
        ("loki", "loki", "http://loki:3100"),
    ];
    for (uid, kind, url) in fixed {
        let ds = by_uid
            .get(uid)
            .unwrap_or_else(|| panic!("no datasource with uid {uid}"));
        assert_eq!(ds["type"], kind, "{uid}");
        assert_eq!(ds["url"], url, "{uid}");
    }
    assert_eq!(by_uid.len(), fixed.len());
    // Cross-links between datasources name provisioned UIDs too.
    let mut links = Vec::new();
    collect_key(&prov, "datasourceUid", &mut links);
    assert!(links.len() >= 5, "{links:?}");
    for l in links {
        assert!(
            by_uid.contains_key(&l),
            "a datasource links to unknown uid {l}"
        );
    }

    let dash: Value =
        serde_json::from_str(&read("docker/grafana/otel-canary-dashboard.json")).unwrap();
    let vars = dash["templating"]["list"].as_array().unwrap();
    let ds_var = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    let var_name = ds_var["name"].as_str().unwrap();
    let var_default = ds_var["current"]["value"]
        .as_str()
        .expect("the datasource variable defaults to a provisioned UID");
    let default_ds = &by_uid
        .get(var_default)
        .unwrap_or_else(|| panic!("the datasource variable defaults to unknown uid {var_default}"));
    assert_eq!(
        default_ds["type"], ds_var["query"],
        "variable type vs its default"
    );

    let mut refs = Vec::new();
    datasource_refs(&dash, String::new(), &mut refs);
    assert!(refs.len() > 10, "{} datasource references", refs.len());
    let variable = format!("${{{var_name}}}");
    for (at, r) in refs {
        let uid = r["uid"].as_str().unwrap_or_else(|| panic!("{at}: no uid"));
        if uid == "-- Grafana --" {
            continue;
        }
        let resolved = if uid == variable || uid == format!("${var_name}") {
            var_default
        } else {
            uid
        };
        let ds = by_uid
            .get(resolved)
            .unwrap_or_else(|| panic!("{at}: datasource uid {uid} is not provisioned"));
        if let Some(t) = r["type"].as_str() {
            assert_eq!(
                ds["type"], t,
                "{at}: uid {uid} is a {} datasource",
                ds["type"]
            );
        }
    }

    // The provider loads the directory compose.yaml mounts the dashboard into.
    let provider = yaml("docker/grafana/provisioning/dashboards/dashboards.yaml");
    let path = str_at(&provider, "/providers/0/options/path");
    let compose = yaml(COMPOSE);
    let mounts: Vec<&str> = compose["services"]["grafana"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./grafana/otel-canary-dashboard.json:")
                && m.contains(&format!(":{path}/"))),
        "the dashboard is mounted under the provider's path {path}: {mounts:?}"
    );
}

fn collect_key(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == key
                    && let Some(s) = child.as_str()
                {
                    out.push(s.to_string());
                }
                collect_key(child, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_key(c, key, out)),
        _ => {}
    }
}

// ---- Tempo, Loki, Mimir, the collector -------------------------------------------------------

#[test]
fn tempo_generates_span_metrics_service_graphs_and_local_blocks_for_every_tenant() {
    let tempo = yaml("docker/tempo/tempo.yaml");
    let processors: BTreeSet<&str> =
        tempo["overrides"]["defaults"]["metrics_generator"]["processors"]
            .as_array()
            .expect("overrides.defaults.metrics_generator.processors (incident 9)")
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
    assert_eq!(
        processors,
        BTreeSet::from(["span-metrics", "service-graphs", "local-blocks"])
    );
    assert!(tempo["metrics_generator"]["storage"]["path"].is_string());
    assert!(
        tempo["metrics_generator"]["traces_storage"]["path"].is_string(),
        "local-blocks needs traces_storage"
    );
    assert_eq!(
        tempo["stream_over_http_enabled"], true,
        "Grafana's streaming search"
    );
}

#[test]
fn loki_keeps_structured_metadata_and_mimir_evaluates_the_alert_rules() {
    let loki = yaml("docker/loki/loki.yaml");
    assert_eq!(loki["auth_enabled"], false);
    assert_eq!(loki["limits_config"]["allow_structured_metadata"], true);
    let schema = &loki["schema_config"]["configs"][0];
    assert_eq!(
        (schema["store"].as_str(), schema["schema"].as_str()),
        (Some("tsdb"), Some("v13")),
        "structured metadata needs tsdb and schema v13"
    );

    let mimir = yaml("docker/mimir/mimir.yaml");
    assert_eq!(mimir["multitenancy_enabled"], false);
    assert_eq!(mimir["ruler_storage"]["backend"], "local");
    let rules_dir = str_at(&mimir, "/ruler_storage/local/directory");
    let compose = yaml(COMPOSE);
    let rule_mount = format!(
        "./prometheus/otel-canary-alerts.yaml:{rules_dir}/anonymous/otel-canary-alerts.yaml:ro"
    );
    assert!(
        compose["services"]["mimir"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_str() == Some(rule_mount.as_str())),
        "Mimir's ruler reads the shipped rules for tenant `anonymous`: {rule_mount}"
    );
}

fn pipelines(config: &Value) -> BTreeMap<String, Value> {
    config["service"]["pipelines"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Maps merge, lists are replaced: how the collector combines several --config sources
/// (confmap's default merge) and how compose combines files.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn assert_pipelines_use_defined_components(config: &Value, what: &str) {
    for (name, p) in pipelines(config) {
        for (kind, section) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            for c in names(&p[kind]) {
                assert!(
                    config[section].get(&c).is_some(),
                    "{what}: pipeline {name} uses {kind} {c}, which is not defined"
                );
            }
        }
        assert!(
            !names(&p["receivers"]).is_empty(),
            "{what}: {name} has no receiver"
        );
        assert!(
            !names(&p["exporters"]).is_empty(),
            "{what}: {name} has no exporter"
        );
    }
    for ext in names(&config["service"]["extensions"]) {
        assert!(
            config["extensions"].get(&ext).is_some(),
            "{what}: extension {ext}"
        );
    }
}

#[test]
fn the_faults_overlay_breaks_exactly_the_logs_from_4318() {
    let base = yaml("docker/collector/config.yaml");
    assert_pipelines_use_defined_components(&base, "config.yaml");
    let receiver_port = |cfg: &Value, r: &str| {
        port_of(str_at(
            cfg,
            &format!(
                "/receivers/{}/protocols/http/endpoint",
                r.replace('/', "~1")
            ),
        ))
    };
    assert_eq!(receiver_port(&base, "otlp"), 4318);
    assert_eq!(receiver_port(&base, "otlp/pipeline"), 4319);
    // Healthy: both HTTP receivers feed every OTLP pipeline.
    for (name, p) in pipelines(&base)
        .iter()
        .filter(|(n, _)| !n.contains("scraped"))
    {
        let r = names(&p["receivers"]);
        assert!(
            r.contains(&"otlp".into()) && r.contains(&"otlp/pipeline".into()),
            "{name}: {r:?}"
        );
    }

    let overlay = yaml("docker/collector/faults.yaml");
    let mut broken = base.clone();
    merge(&mut broken, &overlay);
    assert_pipelines_use_defined_components(&broken, "config.yaml + faults.yaml");
    let before = pipelines(&base);
    let after = pipelines(&broken);
    // Logs arriving on 4318 end in `debug` only; on 4319 they still go to Loki.
    let to_loki: Vec<&String> = after
        .iter()
        .filter(|(_, p)| names(&p["exporters"]).contains(&"otlp_http/loki".into()))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(to_loki, ["logs"]);
    assert_eq!(names(&after["logs"]["receivers"]), ["otlp/pipeline"]);
    let apps: Vec<(&String, &Value)> = after
        .iter()
        .filter(|(n, p)| n.starts_with("logs") && names(&p["receivers"]).contains(&"otlp".into()))
        .collect();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(names(&apps[0].1["exporters"]), ["debug"]);
    // Nothing else changed.
    for name in ["traces", "metrics", "metrics/scraped"] {
        assert_eq!(before[name], after[name], "{name}");
    }

    // compose.faults.yaml passes both files to the collector and mounts the overlay.
    let faults = yaml(FAULTS);
    let col = &faults["services"]["collector"];
    let cmd = names(&col["command"]);
    assert_eq!(
        cmd,
        [
            "--config=/etc/otelcol-contrib/config.yaml",
            "--config=/etc/otelcol-contrib/faults.yaml"
        ]
    );
    assert_eq!(
        names(&col["volumes"]),
        ["./collector/faults.yaml:/etc/otelcol-contrib/faults.yaml:ro"]
    );
    let compose = yaml(COMPOSE);
    assert!(
        names(&compose["services"]["collector"]["volumes"])
            .contains(&"./collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro".into())
    );
}

#[test]
fn images_are_pinned_to_versions() {
    let compose = yaml(COMPOSE);
    let mut seen = BTreeMap::new();
    for (name, svc) in compose["services"].as_object().unwrap() {
        let image = svc["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no image"));
        if svc.get("build").is_some() {
            assert_eq!(image, "otel-canary:local", "{name}");
            continue;
        }
        let (_, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{name}: {image} has no tag"));
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()) && tag.contains('.'),
            "{name}: {image} is not pinned to a version"
        );
        seen.insert(name.clone(), image.to_string());
    }
    assert_eq!(
        seen.keys().map(String::as_str).collect::<Vec<_>>(),
        ["collector", "grafana", "loki", "mimir", "tempo"]
    );
    assert!(seen["collector"].starts_with("otel/opentelemetry-collector-contrib:"));
    assert!(
        seen["loki"].starts_with("grafana/loki:3."),
        "Loki 3 (OTLP ingestion)"
    );
}

// ---- the external validators -------------------------------------------------------------------

fn tools_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("OTEL_CANARY_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| {
            panic!("neither OTEL_CANARY_TOOLS_DIR nor HOME is set: run `.ci/install-tools`")
        });
    PathBuf::from(home).join(".cache/otel-canary/tools")
}

fn tool(var: &str, default: &str) -> PathBuf {
    let (path, origin) = match std::env::var_os(var).filter(|p| !p.is_empty()) {
        Some(p) => (PathBuf::from(p), format!("from {var}")),
        None => (
            tools_cache().join(default),
            format!("{var} is unset, so the default cache"),
        ),
    };
    assert!(
        path.is_file(),
        "{} is missing ({origin}): run `.ci/install-tools` (docker-compose and kubectl from \
         Debian trixie, kubernetes-validate and dockerfile-parse from PyPI, into its cache)",
        path.display()
    );
    path
}

fn compose_bin() -> PathBuf {
    tool(
        "OTEL_CANARY_DOCKER_COMPOSE_BIN",
        "root/usr/bin/docker-compose",
    )
}
fn kubectl_bin() -> PathBuf {
    tool("OTEL_CANARY_KUBECTL_BIN", "root/usr/bin/kubectl")
}
fn python_bin() -> PathBuf {
    tool("OTEL_CANARY_TOOLS_PYTHON", "venv/bin/python")
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `docker-compose config -q` with no Docker engine: compose parses and checks the files,
/// interpolates, resolves paths; it needs no daemon for that.
fn compose_config(files: &[&Path], extra: &[&str]) -> Output {
    let mut cmd = Command::new(compose_bin());
    for f in files {
        cmd.arg("-f").arg(f);
    }
    cmd.args(extra)
        .arg("config")
        .arg("-q")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROFILES")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    run(&mut cmd)
}

#[test]
fn docker_compose_accepts_every_compose_file() {
    let docker = repo().join("docker");
    let base = docker.join("compose.yaml");
    let faults = docker.join("compose.faults.yaml");
    for (files, extra) in [
        (vec![base.as_path()], vec![]),
        (vec![base.as_path()], vec!["--profile", "check"]),
        (vec![base.as_path(), faults.as_path()], vec![]),
    ] {
        let out = compose_config(&files, &extra);
        assert!(out.status.success(), "{files:?} {extra:?}: {}", text(&out));
    }
    // The merged view: the run service only under its profile, the faults' collector command.
    let out = run(Command::new(compose_bin())
        .args(["-f"])
        .arg(&base)
        .args(["-f"])
        .arg(&faults)
        .args(["--profile", "check", "config", "--format", "json"]));
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_json::from_slice(&out.stdout).expect("compose config JSON");
    assert_eq!(
        merged["services"]["collector"]["command"],
        json!([
            "--config=/etc/otelcol-contrib/config.yaml",
            "--config=/etc/otelcol-contrib/faults.yaml"
        ])
    );
    let vols = merged["services"]["collector"]["volumes"]
        .as_array()
        .unwrap();
    assert_eq!(vols.len(), 2, "config.yaml and faults.yaml: {vols:?}");
    assert!(merged["services"]["otel-canary-run"].is_object());

    // The check can fail: a service with an unknown key is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("compose.yaml");
    std::fs::write(
        &bad,
        "services:\n  x:\n    image: busybox:1.36\n    portz: [\"1:1\"]\n",
    )
    .unwrap();
    let out = compose_config(&[bad.as_path()], &[]);
    assert!(
        !out.status.success(),
        "an unknown key passed: {}",
        text(&out)
    );
    assert!(text(&out).contains("portz"), "{}", text(&out));
}

fn kustomize(dir: &str) -> String {
    let out = run(Command::new(kubectl_bin())
        .arg("kustomize")
        .arg(repo().join(dir)));
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kubernetes-validate --strict` (unknown fields are errors) against one Kubernetes version.
fn kubernetes_validate(manifests: &str, version: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, manifests).unwrap();
    run(Command::new(python_bin())
        .args(["-m", "kubernetes_validate", "--strict", "-k", version])
        .arg(&file))
}

const KUBERNETES_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];

#[test]
fn kubernetes_manifests_render_and_validate_against_the_schemas() {
    for version in KUBERNETES_VERSIONS {
        // The validator rejects what it should: a misspelled field, a wrong type.
        let broken = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  schedule: \"* * * * *\"\n  backofLimit: 0\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: x, image: x}]\n";
        let out = kubernetes_validate(broken, version);
        assert!(
            !out.status.success(),
            "a misspelled field passed {version}: {}",
            text(&out)
        );

        for dir in ["docker/k8s", "docker/k8s/prometheus-operator"] {
            let rendered = kustomize(dir);
            let out = kubernetes_validate(&rendered, version);
            let said = text(&out);
            assert!(out.status.success(), "{dir} against {version}: {said}");
            for kind in [
                "deployment",
                "cronjob",
                "service",
                "configmap",
                "serviceaccount",
            ] {
                assert!(
                    said.contains(&format!("passed for resource {kind}/")),
                    "{dir} {version}: {kind} not validated: {said}"
                );
            }
        }
    }
}

fn by_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// What every canary container must look like, wherever it runs.
fn assert_hardened(pod: &Value, what: &str, configmap: &str) {
    assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true, "{what}");
    assert_eq!(psc["runAsUser"], 65532, "{what}: the image's nonroot user");
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{what}");
    for res in ["requests/cpu", "requests/memory", "limits/memory"] {
        assert!(
            c["resources"].pointer(&format!("/{res}")).is_some(),
            "{what}: resources.{res}"
        );
    }
    // Credentials only through the Secret, never on the command line.
    let args = names(&c["args"]).join(" ").to_lowercase();
    for word in [
        "password",
        "token",
        "secret",
        "authorization",
        "--header",
        "-h ",
    ] {
        assert!(!args.contains(word), "{what}: '{word}' in args: {args}");
    }
    assert_eq!(
        c["envFrom"],
        json!([{"secretRef": {"name": "otel-canary-credentials", "optional": true}}]),
        "{what}"
    );
    for e in c["env"].as_array().into_iter().flatten() {
        assert!(
            e.get("value").is_some_and(|v| !v
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("password"))
        );
    }
    // The scenarios come from the generated ConfigMap.
    let vols = pod["volumes"].as_array().unwrap();
    assert!(
        vols.iter().any(|v| v["configMap"]["name"] == configmap),
        "{what}: volumes {vols:?} do not use {configmap}"
    );
    assert!(
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/etc/otel-canary/scenarios" && m["readOnly"] == true),
        "{what}"
    );
}

#[test]
fn kubernetes_cronjob_deployment_and_servicemonitor_are_what_the_docs_promise() {
    let base = yaml_docs(&kustomize("docker/k8s"), "kubectl kustomize docker/k8s");
    let cm = by_kind(&base, "ConfigMap");
    let cm_name = cm["metadata"]["name"].as_str().unwrap();
    assert!(
        cm_name.starts_with("otel-canary-scenarios-"),
        "generated with a hash: {cm_name}"
    );
    let scenario_names: Vec<&String> = cm["data"].as_object().unwrap().keys().collect();
    assert!(!scenario_names.is_empty());
    for (name, body) in cm["data"].as_object().unwrap() {
        Scenario::parse(name, body.as_str().unwrap().to_string())
            .unwrap_or_else(|e| panic!("ConfigMap scenario {name}: {e}"));
    }

    let cron = by_kind(&base, "CronJob");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    let job = &cron["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0);
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_hardened(pod, "CronJob", cm_name);
    let args = names(&pod["containers"][0]["args"]);
    assert_eq!(args[0], "run");
    let output = args.iter().position(|a| a == "--output").expect("--output");
    assert_eq!(args[output + 1], "json", "JSON on stdout");
    let scenario = &args[args.iter().position(|a| a == "--scenario").unwrap() + 1];
    let file = scenario
        .strip_prefix("/etc/otel-canary/scenarios/")
        .expect(scenario);
    assert!(
        cm["data"].get(file).is_some(),
        "the CronJob's scenario {file} is in the ConfigMap"
    );

    let deploy = by_kind(&base, "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 1);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_hardened(pod, "Deployment", cm_name);
    let c = &pod["containers"][0];
    assert_eq!(names(&c["args"])[0], "serve");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    let port = &c["ports"][0];
    assert_eq!(
        (port["name"].as_str(), port["containerPort"].as_u64()),
        (Some("http-metrics"), Some(9464))
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "http-metrics", "{probe}");
    }
    assert_eq!(
        by_kind(&base, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            [0]["image"],
        c["image"],
        "one image for both"
    );

    let svc = by_kind(&base, "Service");
    let selector = svc["spec"]["selector"].as_object().unwrap();
    let pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    for (k, v) in selector {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "the Service selects the serve pods: {k}"
        );
    }
    let cron_labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    assert!(
        selector.iter().any(|(k, v)| cron_labels.get(k) != Some(v)),
        "the Service must not select the CronJob's pods"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http-metrics");

    let po = yaml_docs(
        &kustomize("docker/k8s/prometheus-operator"),
        "prometheus-operator",
    );
    let sm = by_kind(&po, "ServiceMonitor");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    let svc = by_kind(&po, "Service");
    let svc_labels = svc["metadata"]["labels"].as_object().unwrap();
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            svc_labels.get(k),
            Some(v),
            "the ServiceMonitor selects the Service: {k}"
        );
    }
    let ep = &sm["spec"]["endpoints"][0];
    assert_eq!(ep["port"], svc["spec"]["ports"][0]["name"]);
    assert_eq!(ep["path"], "/metrics");
}

#[test]
fn the_dockerfile_builds_release_and_runs_nonroot_on_distroless() {
    const DUMP: &str = r#"
import io, json, sys
from dockerfile_parse import DockerfileParser
d = DockerfileParser(fileobj=io.BytesIO(open(sys.argv[1], "rb").read()))
print(json.dumps({"structure": d.structure, "parents": d.parent_images}))
"#;
    let path = repo().join("docker/Dockerfile");
    let out = run(Command::new(python_bin()).args(["-c", DUMP]).arg(&path));
    assert!(out.status.success(), "dockerfile-parse: {}", text(&out));
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parents = names(&parsed["parents"]);
    let ins: Vec<(String, String)> = parsed["structure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instruction"].as_str().unwrap().to_string(),
                i["value"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(k, _)| k != "COMMENT")
        .collect();

    // Two stages: a Rust build on trixie, then distroless/cc on trixie (the same glibc).
    assert_eq!(parents.len(), 2, "{parents:?}");
    let rust = parents[0].strip_prefix("rust:").expect(&parents[0]);
    let (toolchain, variant) = rust.split_once('-').unwrap();
    assert_eq!(variant, "slim-trixie");
    assert_eq!(parents[1], "gcr.io/distroless/cc-debian13:nonroot");
    let msrv = toml_file("Cargo.toml")["package"]["rust-version"]
        .as_str()
        .unwrap()
        .to_string();
    let v = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        v(toolchain)[..2] >= v(&msrv)[..2],
        "toolchain {toolchain} < rust-version {msrv}"
    );

    let froms: Vec<&String> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| v)
        .collect();
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    let stage2 = ins
        .iter()
        .position(|(k, _)| k == "FROM")
        .map(|first| {
            first
                + 1
                + ins[first + 1..]
                    .iter()
                    .position(|(k, _)| k == "FROM")
                    .unwrap()
        })
        .unwrap();
    let (build, runtime) = ins.split_at(stage2);

    let run_line = build
        .iter()
        .find(|(k, _)| k == "RUN")
        .map(|(_, v)| v.clone())
        .expect("a RUN");
    assert!(
        run_line.contains("cargo build --release --locked"),
        "{run_line}"
    );
    assert!(
        build
            .iter()
            .any(|(k, v)| k == "ENV" && v == "CARGO_PROFILE_RELEASE_DEBUG=none"),
        "the image's binary carries no debug info"
    );
    // What the build copies is in the build context (.dockerignore is an allow-list).
    let ignore = read(".dockerignore");
    let allowed: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    assert!(
        ignore.lines().any(|l| l.trim() == "*"),
        ".dockerignore starts from nothing"
    );
    for (_, v) in build.iter().filter(|(k, _)| k == "COPY") {
        let mut words: Vec<&str> = v.split_whitespace().collect();
        words.pop(); // destination
        for src in words {
            assert!(
                repo().join(src).exists(),
                "COPY {src}: not in the repository"
            );
            assert!(
                allowed.contains(&src),
                "COPY {src}: excluded by .dockerignore"
            );
        }
    }
    // Every file build.rs and the crate need is there: Cargo.toml's explicit benches, the
    // embedded scenarios.
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        "benches",
        "scenarios",
    ] {
        assert!(
            allowed.contains(&needed),
            "{needed} missing from the build context"
        );
    }

    let get = |k: &str| {
        runtime
            .iter()
            .filter(|(i, _)| i == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        get("COPY"),
        ["--from=build /out/otel-canary /usr/local/bin/otel-canary"]
    );
    assert_eq!(get("USER"), ["65532:65532"], "numeric non-root user");
    assert_eq!(get("ENTRYPOINT"), [r#"["otel-canary"]"#]);
    assert_eq!(get("EXPOSE"), ["9464"]);
    let hc = get("HEALTHCHECK");
    assert_eq!(hc.len(), 1);
    assert!(
        hc[0].contains(r#"CMD ["otel-canary", "healthcheck""#) && hc[0].contains("/-/healthy"),
        "the healthcheck is the binary's own subcommand (no curl in distroless): {}",
        hc[0]
    );
    assert!(
        !runtime.iter().any(|(k, _)| k == "RUN"),
        "nothing runs in the distroless stage"
    );
}

// ---- the docs that ship with it -----------------------------------------------------------

/// The README's set-up block: exactly the two commands a newcomer needs, and the test command
/// is what `.ci/run` runs after fmt and clippy, in the same order.
#[test]
fn readme_setup_commands_are_what_ci_runs() {
    let readme = read("README.md");
    let setup = readme
        .split("## Set up on a fresh machine")
        .nth(1)
        .expect("a set-up section");
    let block = setup
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], "cargo run --release -- demo");
    let steps: Vec<&str> = commands[1].split("&&").map(str::trim).collect();
    let ci = read(".ci/run");
    let mut from = 0;
    for step in &steps {
        let wanted = if *step == "cargo test" {
            "cargo test --locked"
        } else {
            step
        };
        let at = ci[from..]
            .lines()
            .position(|l| l.trim() == wanted)
            .unwrap_or_else(|| panic!("README's `{step}` is not a later step of .ci/run"));
        from += ci[from..]
            .lines()
            .take(at + 1)
            .map(|l| l.len() + 1)
            .sum::<usize>();
    }
}

/// Relative links in the README and docs/ point at files that exist.
#[test]
fn relative_links_in_the_docs_resolve() {
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").unwrap();
    let mut files = vec![repo().join("README.md"), repo().join("CHANGELOG.md")];
    for e in std::fs::read_dir(repo().join("docs")).unwrap() {
        files.push(e.unwrap().path());
    }
    let mut seen = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let path = f.parent().unwrap().join(target);
            assert!(
                path.exists(),
                "{}: link to {target}, which does not exist",
                f.display()
            );
            seen += 1;
        }
    }
    assert!(seen > 20, "{seen} links");
}

#[test]
fn the_license_is_apache_2_as_cargo_toml_says() {
    assert_eq!(
        toml_file("Cargo.toml")["package"]["license"].as_str(),
        Some("Apache-2.0")
    );
    let license = read("LICENSE");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(license.contains("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
}
