//! The committed fuzz corpora (`fuzz/corpus/<target>/`), replayed through the same entry
//! points `cargo fuzz` runs (`otel_canary::fuzzing::TARGETS`), as an ordinary test: every
//! seed and every input the fuzzer kept must still parse without a panic and hold the same
//! invariants, on stable Rust and without libFuzzer. A crash the fuzzer found, once fixed,
//! stays here as a regression input.

use otel_canary::fuzzing::{TARGETS, target};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs one input through a target, naming the file when it panics.
fn replay(name: &str, path: &Path) {
    let t = target(name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    let data = std::fs::read(path).expect("corpus file");
    let outcome = std::panic::catch_unwind(|| (t.entry)(&data));
    if let Err(e) = outcome {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{name} fails on {}: {msg}", path.display());
    }
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_seed_corpus() {
    let cargo = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for t in TARGETS {
        let src = fuzz_dir()
            .join("fuzz_targets")
            .join(format!("{}.rs", t.name));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains(&format!("otel_canary::fuzzing::{}(", t.name)),
            "{} does not call its entry",
            src.display()
        );
        assert!(
            cargo.contains(&format!("name = \"{}\"", t.name)),
            "fuzz/Cargo.toml has no [[bin]] {}",
            t.name
        );
        let corpus = fuzz_dir().join("corpus").join(t.name);
        assert!(!files(&corpus).is_empty(), "{} has no seed corpus", t.name);
    }
    // And no corpus or fuzz binary without a target behind it.
    for dir in files_and_dirs(&fuzz_dir().join("corpus")) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(target(&name).is_some(), "fuzz/corpus/{name} has no target");
    }
    for f in files(&fuzz_dir().join("fuzz_targets")) {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(target(&name).is_some(), "{} has no target", f.display());
    }
}

fn files_and_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("fuzz/corpus")
        .map(|e| e.expect("dir entry").path())
        .collect()
}

#[test]
fn every_corpus_input_replays_cleanly() {
    let mut replayed = 0;
    for t in TARGETS {
        for path in files(&fuzz_dir().join("corpus").join(t.name)) {
            replay(t.name, &path);
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len(), "only {replayed} inputs replayed");
}

#[test]
fn the_secret_checks_see_the_secrets() {
    // An invariant that cannot fail proves nothing: the entries' idea of "a secret in this
    // input" must find the credentials a person would write.
    let found = otel_canary::fuzzing::setting_secrets(
        "OTEL_EXPORTER_OTLP_HEADERS=Authorization: Bearer t0kenWithPad01==,x-scope-orgid=team1234a\n\
         OTEL_CANARY_READ_TOKEN=r3adT0kenSecret\n\
         OTEL_EXPORTER_OTLP_ENDPOINT=http://u:envPassw0rd1@h:4318\n\
         OTEL_CANARY_READ_TOKEN_FILE=/run/s3cret5/file1",
    );
    for s in ["t0kenwithpad01", "r3adt0kensecret", "envpassw0rd1"] {
        assert!(found.iter().any(|f| f == s), "{s} not seen in {found:?}");
    }
    assert!(
        !found
            .iter()
            .any(|f| f.contains("team1234a") || f.contains("file1"))
    );
    let toml = otel_canary::fuzzing::setting_secrets(
        "[export.headers]\nauthorization = \"Bearer inl1neT0ken\"\nx-scope-orgid = \"tenant123a\"",
    );
    assert_eq!(toml, vec!["inl1net0ken".to_string()]);
}
