//! The command line: secrets never printed (but still sent), bad input exits 2 naming the
//! input and never panics, and every subcommand's --help teaches with an example.

mod common;

use common::{run_bin, run_bin_async, stderr, stdout};
use otel_canary::signal::Signal;

#[tokio::test]
async fn credentials_are_sent_but_never_printed() {
    let lab = common::lab().await;
    let secret_flag = "Bearer flag-secret-7f3a9";
    let secret_env = "env-secret-c41d2";
    for output in ["human", "json"] {
        let out = run_bin_async(
            vec![
                "emit".into(),
                "--output".into(),
                output.into(),
                "--endpoint".into(),
                lab.http_base(false)
                    .replace("http://", "http://user:url-secret-99@"),
                "-H".into(),
                format!("Authorization={secret_flag}"),
                "--tenant".into(),
                "team-a".into(),
            ],
            vec![(
                "OTEL_EXPORTER_OTLP_HEADERS".into(),
                format!("x-api-key={secret_env}"),
            )],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        for s in ["flag-secret-7f3a9", secret_env, "url-secret-99"] {
            assert!(!all.contains(s), "{output} output leaks {s}:\n{all}");
        }
        assert!(
            all.contains("<redacted>") || all.contains("redacted"),
            "{all}"
        );
        assert!(all.contains("team-a"), "tenants are not secrets");
    }
    let got = &lab.state.store.of(Signal::Trace)[0];
    assert_eq!(
        got.header("authorization"),
        Some(secret_flag),
        "the real value is sent"
    );
    assert_eq!(got.header("x-api-key"), Some(secret_env));
}

#[test]
fn bad_input_exits_2_naming_the_input() {
    /// (arguments, environment, words the error must contain)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["emit", "--protocol", "udp"], &[], "udp"),
        (&["emit", "--signals", "trace,profiles"], &[], "profiles"),
        (&["emit", "--endpoint", "localhost:4318"], &[], "--endpoint"),
        (&["emit", "--endpoint", "http://"], &[], "--endpoint"),
        (&["emit", "-H", "novalue"], &[], "--header"),
        (&["emit", "--compression", "brotli"], &[], "brotli"),
        (&["emit", "--export-timeout", "soon"], &[], "soon"),
        (
            &[
                "emit",
                "--ca-cert",
                "/nonexistent/ca.pem",
                "--endpoint",
                "https://127.0.0.1:1",
            ],
            &[],
            "/nonexistent/ca.pem",
        ),
        (&["emit", "--client-cert", "/tmp/c.pem"], &[], "client key"),
        (
            &["emit"],
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            &["emit"],
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
        (
            &["emit"],
            &[("OTEL_EXPORTER_OTLP_HEADERS", "a")],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            &["emit"],
            &[("OTEL_RESOURCE_ATTRIBUTES", "broken")],
            "OTEL_RESOURCE_ATTRIBUTES",
        ),
        (
            &["emit"],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "col:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (&["nonsense"], &[], "nonsense"),
    ];
    for (args, env, names) in cases {
        let out = run_bin(args, env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(
            err.contains(names),
            "{args:?} {env:?}: message should name {names}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
    }
}

/// The read side, scenarios and the lab: every bad value exits 2 naming the input.
#[test]
fn bad_run_and_lab_input_exits_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let not_pem = path("not-a-cert.pem", "hello, I am not a certificate\n");
    let bad_value = path(
        "bad-value.toml",
        "[export]\nprotocol = \"carrier-pigeon\"\n",
    );
    let unknown_key = path(
        "unknown-key.toml",
        "[read]\ntempo = \"http://t:3200\"\nlokki = \"x\"\n",
    );
    let bad_url = path("bad-url.toml", "[read]\nloki = \"loki:3100\"\n");
    let dir_path = dir.path().to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "--tempo", "not a url"], "--tempo"),
        (vec!["run", "--loki", "ftp://loki:3100"], "--loki"),
        (vec!["run", "--mimir", "http://"], "--mimir"),
        (vec!["run", "--read-header", "nocolon"], "--read-header"),
        (
            vec![
                "run",
                "--tempo",
                "https://t:3200",
                "--read-ca-cert",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
        (
            vec![
                "run",
                "--ca-cert",
                &not_pem,
                "--endpoint",
                "https://127.0.0.1:1",
            ],
            "not-a-cert.pem",
        ),
        (vec!["run", "--log-match", "fuzzy"], "fuzzy"),
        (vec!["run", "--timeout", "forever"], "forever"),
        (vec!["run", "--scenario", &bad_value], "export.protocol"),
        (vec!["run", "--scenario", &unknown_key], "lokki"),
        (vec!["run", "--scenario", &bad_url], "read.loki"),
        (
            vec!["run", "--scenario", "/nonexistent/s.toml"],
            "/nonexistent/s.toml",
        ),
        (
            vec!["run", "--scenario", "no-such-built-in"],
            "no-such-built-in",
        ),
        (vec!["lab", "--fault", "trace:explode"], "explode"),
        (vec!["lab", "--fault", "log:status=999"], "999"),
        (
            vec![
                "lab",
                "--tls-cert",
                "/nonexistent/c.pem",
                "--tls-key",
                "/nonexistent/k.pem",
            ],
            "--tls-cert",
        ),
        (vec!["lab", "--tls-cert", &not_pem], "--tls-key"),
        (
            vec!["lab", "--scrape", "ftp://127.0.0.1:9464/metrics"],
            "--scrape: ftp://127.0.0.1:9464/metrics",
        ),
        (
            vec!["lab", "--scrape", "127.0.0.1:9464/metrics"],
            "127.0.0.1:9464/metrics",
        ),
        (vec!["lab", "--scrape-interval", "0s"], "--scrape-interval"),
        (
            vec!["lab", "--scrape-interval", "often"],
            "--scrape-interval",
        ),
        (vec!["lab", "--scrape-job", ""], "--scrape-job"),
        (vec!["lab", "--tail", &dir_path], &dir_path),
    ];
    for (args, names) in cases {
        let out = run_bin(&args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(names),
            "{args:?}: message should name {names}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
    }
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in ["emit", "run", "lab", "demo", "serve"] {
        let out = run_bin(&[cmd, "--help"], &[]);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(
            text.contains("Examples:"),
            "{cmd} --help has no example:\n{text}"
        );
        assert!(text.contains(&format!("otel-canary {cmd}")), "{text}");
    }
    let top = stdout(&run_bin(&["--help"], &[]));
    assert!(top.contains("Exit codes"), "{top}");
}

#[test]
fn demo_passes_on_a_fresh_machine_and_ignores_stray_env() {
    let out = run_bin(
        &["demo", "--output", "json"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_CANARY_TEMPO_URL", "http://127.0.0.1:1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let doc = common::json_out(&out);
    assert_eq!(doc["ok"], true);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for r in runs {
        for s in ["trace", "log", "metric"] {
            assert_eq!(r["received_identical"][s], true, "{r}");
        }
        // The full round trip: every signal read back, every hop ok.
        assert_eq!(r["run"]["schema"], "otel-canary/run/v1");
        for sig in r["run"]["signals"].as_array().unwrap() {
            assert_eq!(sig["status"], "ok", "{sig}");
            assert!(
                sig["hops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["status"] == "ok"),
                "{sig}"
            );
        }
    }
    let human = run_bin(&["demo"], &[]);
    assert_eq!(human.status.code(), Some(0));
    assert!(stdout(&human).contains("demo passed"));
}

#[test]
fn bad_serve_input_exits_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let scrape_no_backend = path("scrape.toml", "[pull]\nscrape = true\n");
    let line_no_loki = path("line.toml", "[pull]\nlog_line = \"stdout\"\n");
    let bad_timeout = path(
        "timeout.toml",
        "[read]\nloki = \"http://127.0.0.1:3100\"\n[pull]\nlog_line = \"stdout\"\nlog_line_timeout = \"soon\"\n",
    );
    let unknown_pull_key = path("pullkey.toml", "[pull]\nscrap = true\n");
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = empty_dir.path().to_string_lossy().into_owned();
    let twins = tempfile::tempdir().unwrap();
    let a = twins.path().join("a");
    std::fs::create_dir(&a).unwrap();
    std::fs::write(a.join("same.toml"), "").unwrap();
    std::fs::write(twins.path().join("same.toml"), "").unwrap();
    let twin_dir = a.to_string_lossy().into_owned();
    let twin_file = twins
        .path()
        .join("same.toml")
        .to_string_lossy()
        .into_owned();
    // A port that is taken: serve must say so, not panic.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["serve", "--listen", "9464"], "--listen"),
        (vec!["serve", "--interval", "0s"], "--interval"),
        (vec!["serve", "--interval", "often"], "--interval"),
        (vec!["serve", "--max-in-flight", "0"], "--max-in-flight"),
        (
            vec!["serve", "--scenario", "no-such-scenario"],
            "no-such-scenario",
        ),
        (
            vec!["serve", "--scenario", &scrape_no_backend],
            "pull.scrape",
        ),
        (vec!["serve", "--scenario", &line_no_loki], "pull.log_line"),
        (
            vec!["serve", "--scenario", &bad_timeout],
            "pull.log_line_timeout",
        ),
        (vec!["serve", "--scenario", &unknown_pull_key], "scrap"),
        (vec!["serve", "--scenario", &empty], "no *.toml"),
        (
            vec!["serve", "--scenario", &twin_dir, "--scenario", &twin_file],
            "two scenarios are called 'same'",
        ),
        (vec!["serve", "--listen", &taken_addr], "cannot listen on"),
    ];
    for (args, names) in cases {
        let out = common::run_bin(&args, &[]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?} should name {names}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    drop(taken);
}

/// `--version`: the crate version, plus `git describe` of this work tree when built from one
/// (build.rs); a build from a tarball prints the crate version alone.
#[test]
fn version_names_the_crate_version_and_the_git_describe() {
    let out = run_bin(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let line = stdout(&out);
    let expected = format!("otel-canary {}", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected), "{line}");

    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(manifest)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let own_work_tree = git(&["rev-parse", "--show-toplevel"])
        .and_then(|top| std::path::Path::new(&top).canonicalize().ok())
        == manifest.canonicalize().ok();
    if own_work_tree && let Some(head) = git(&["rev-parse", "--short=7", "HEAD"]) {
        // describe is `<tag>-<n>-g<hash>` or the bare hash; either way HEAD's hash is in it,
        // unless HEAD is exactly a tag, when the tag is.
        let tag = git(&["describe", "--tags", "--exact-match"]);
        let shown = line.trim();
        assert!(
            shown.contains(&head) || tag.is_some_and(|t| shown.contains(&t)),
            "built from git at {head}, but --version says {shown}"
        );
        assert!(shown.ends_with(')'), "{shown}");
    } else {
        assert_eq!(
            line.trim(),
            expected,
            "no git work tree: the crate version alone"
        );
    }
}
