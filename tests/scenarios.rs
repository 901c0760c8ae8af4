//! The shipped scenarios run against the built-in stack on the ports they name, and a
//! broken scenario file is a configuration error naming the file, line and key.

mod common;

use common::{json_out, run_bin_async, stderr};
use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use std::net::{IpAddr, Ipv4Addr};

/// One test owns the usual ports (4317, 4318, 3200, 3100, 9009), so the scenarios run in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_scenarios_round_trip_against_the_lab_on_their_ports() {
    let lab = LabStack::start(
        LabStackConfig::usual_ports(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        LabState::new(),
    )
    .await
    .expect("the usual lab ports (4317, 4318, 3200, 3100, 9009) must be free for this test");
    for name in [
        "local-lgtm",
        "alloy-split-receivers",
        "direct-to-backends",
        "multi-tenant",
    ] {
        lab.state.set_require_tenant(name == "multi-tenant");
        let out = run_bin_async(
            vec![
                "run".into(),
                "--scenario".into(),
                name.into(),
                "--no-search".into(),
                "--timeout".into(),
                "5s".into(),
                "--output".into(),
                "json".into(),
            ],
            Vec::new(),
        )
        .await;
        let doc = json_out(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {doc:#}\n{}",
            stderr(&out)
        );
        assert_eq!(doc["scenario"], format!("scenarios/{name}.toml"));
        for s in doc["signals"].as_array().unwrap() {
            let src = &s["export"]["url"]["source"];
            assert_eq!(src["kind"], "scenario", "{name}: {s:#}");
            assert_eq!(s["read"]["url"]["source"]["kind"], "scenario");
        }
        if name == "direct-to-backends" {
            let log = doc["signals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["signal"] == "log")
                .unwrap();
            assert_eq!(
                log["export"]["url"]["value"],
                "http://localhost:3100/otlp/v1/logs"
            );
            assert_eq!(log["export"]["attempts"][0]["response"]["status"], 204);
        }
    }
    // A flag overrides the scenario's tenant, on writes and reads alike.
    lab.state.set_require_tenant(true);
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            "multi-tenant".into(),
            "--tenant".into(),
            "someone-else".into(),
            "--signals".into(),
            "log".into(),
            "--timeout".into(),
            "1s".into(),
            "--output".into(),
            "json".into(),
        ],
        Vec::new(),
    )
    .await;
    let doc = json_out(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let headers = doc["signals"][0]["export"]["headers"].as_array().unwrap();
    let tenant = headers
        .iter()
        .find(|h| h["name"] == "x-scope-orgid")
        .unwrap();
    assert_eq!(tenant["value"], "someone-else");
    assert_eq!(tenant["source"]["name"], "--tenant");
    // Data written under one tenant is invisible to another: the lab keeps them apart.
    let held = lab.state.store.of(otel_canary::signal::Signal::Log);
    assert_eq!(
        held.last().unwrap().header("x-scope-orgid"),
        Some("someone-else")
    );
}

#[tokio::test]
async fn broken_scenarios_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[read]\ntempo = \"http://t:3200\"\nloky = \"http://l:3100\"\n",
            "3: key 'loky'",
        ),
        (
            "[export]\nprotocol = \"grpcc\"\n",
            "2: key 'export.protocol'",
        ),
        ("[deadlines]\nlog = \"forever\"\n", "2: key 'deadlines.log'"),
        ("[read]\nloki = \"loki:3100\"\n", "loki"),
        ("signals = [\"trace\", \"span\"]\n", "1: key 'signals'"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = run_bin_async(
            vec![
                "run".into(),
                "--scenario".into(),
                path.display().to_string(),
            ],
            Vec::new(),
        )
        .await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(&format!("s{i}.toml")) && err.contains(want),
            "{text}: {err}"
        );
    }
    let out = run_bin_async(
        vec!["run".into(), "--scenario".into(), "no-such-scenario".into()],
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("local-lgtm"), "lists the known ones");
}
