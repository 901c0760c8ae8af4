//! What the round-trip benches share: a round trip against the built-in lab.

use otel_canary::config::env::EnvSnapshot;
use otel_canary::config::otlp::{ExportFlags, resolve_export_target};
use otel_canary::config::read::{ReadFlags, resolve_read_target};
use otel_canary::config::resource::{ResourceFlags, ResourceSpec};
use otel_canary::emit::payload::MetricTag;
use otel_canary::lab::LabStack;
use otel_canary::roundtrip::RoundTrip;

/// All three signals sent to the lab's OTLP/HTTP receiver and read back from its Tempo, Loki
/// and Mimir, without the TraceQL search, under a 45 s deadline.
pub fn round_trip(lab: &LabStack) -> RoundTrip {
    let env = EnvSnapshot::default();
    let export = resolve_export_target(
        &ExportFlags {
            endpoint: Some(lab.receivers.http_base(false)),
            ..Default::default()
        },
        &env,
    )
    .unwrap();
    let read = resolve_read_target(
        &ReadFlags {
            tempo: Some(lab.tempo_url()),
            loki: Some(lab.loki_url()),
            mimir: Some(lab.mimir_url()),
            no_search: true,
            // Room for the longest lab delay the schedules bench asks for (30 s).
            timeout: Some(std::time::Duration::from_secs(45)),
            ..Default::default()
        },
        None,
        None,
        &env,
    )
    .unwrap();
    let resource = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
    RoundTrip::new(&export, read, resource, MetricTag::Value).unwrap()
}
