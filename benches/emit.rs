//! Benchmarks: building and encoding one probe per encoding, and exporting all three signals
//! to the lab receivers per protocol. Run: `cargo bench --bench emit`.

use criterion::{Criterion, criterion_group, criterion_main};
use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::otlp::{ExportFlags, Protocol, resolve_export_target};
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::emit::encoding::Encoding;
use otel_canary::emit::exporter::{Exporter, build_payload};
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::{LabReceivers, LabState, ReceiverConfig};
use otel_canary::probe::Probe;
use otel_canary::signal::Signal;
use std::hint::black_box;

fn build_and_encode(c: &mut Criterion) {
    let resource =
        ResourceSpec::resolve(&ResourceFlags::default(), &EnvSnapshot::default()).unwrap();
    for enc in [Encoding::Protobuf, Encoding::Json] {
        c.bench_function(&format!("build+encode probe (3 signals) {enc:?}"), |b| {
            b.iter(|| {
                let probe = Probe::start();
                let mut n = 0;
                for s in Signal::ALL {
                    n += build_payload(s, &probe, &resource, MetricTag::Value)
                        .encode(enc)
                        .len();
                }
                black_box(n)
            })
        });
    }
}

fn export_to_lab(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lab = rt
        .block_on(LabReceivers::start(
            ReceiverConfig::ephemeral(),
            LabState::new(),
        ))
        .unwrap();
    let env = EnvSnapshot::default();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
    for protocol in Protocol::ALL {
        let endpoint = lab.base_for(protocol, false);
        let flags = ExportFlags {
            endpoint: Some(endpoint),
            protocol: Some(protocol),
            ..Default::default()
        };
        let target = resolve_export_target(&flags, &env).unwrap();
        let exporter = rt.block_on(async { Exporter::new(&target) }).unwrap();
        c.bench_function(&format!("export 3 signals to lab {protocol}"), |b| {
            b.to_async(&rt).iter(|| async {
                let probe = Probe::start();
                let out = exporter.export(&probe, &resource, MetricTag::Value).await;
                assert!(out.iter().all(|o| o.accepted()));
                black_box(out)
            })
        });
    }
}

criterion_group!(benches, build_and_encode, export_to_lab);
criterion_main!(benches);
