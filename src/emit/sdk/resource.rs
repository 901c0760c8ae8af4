//! The SDK emitter's resources, built as an instrumented app builds them: the SDK's own
//! detectors (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `telemetry.sdk.*`), then what
//! the app's code sets on top. The code sets only what did not come from the environment
//! (flag, scenario or the canary's default), so the SDK resolves the environment itself;
//! the result is checked against what the readers look for.

use crate::config::Provenance;
use crate::config::resource::ResourceSpec;
use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;

fn from_env(p: &Provenance) -> bool {
    matches!(p, Provenance::Env { .. })
}

/// The resource of the client service (`peer = false`, `service.name` as resolved) or of the
/// peer service that owns the server span (`<name>-peer`, always set by the code).
pub fn sdk_resource(spec: &ResourceSpec, peer: bool) -> Resource {
    let mut b = Resource::builder();
    if peer {
        b = b.with_service_name(spec.peer_service_name());
    } else if !from_env(&spec.service_name.source) {
        b = b.with_service_name(spec.service_name.value.clone());
    }
    if !from_env(&spec.service_instance_id.source) {
        b = b.with_attribute(KeyValue::new(
            "service.instance.id",
            spec.service_instance_id.value.clone(),
        ));
    }
    // A version other than the canary's own came from OTEL_RESOURCE_ATTRIBUTES, which the
    // SDK reads itself.
    if spec.service_version == env!("CARGO_PKG_VERSION") {
        b = b.with_attribute(KeyValue::new(
            "service.version",
            spec.service_version.clone(),
        ));
    }
    b.build()
}

/// Differences between the SDK's resource and what the canary's readers look for: the
/// metric reader selects `job`/`instance` from `service.name`/`service.instance.id`.
pub fn resource_mismatches(r: &Resource, spec: &ResourceSpec, peer: bool) -> Vec<String> {
    let want_name = if peer {
        spec.peer_service_name()
    } else {
        spec.service_name.value.clone()
    };
    let mut out = Vec::new();
    for (key, want) in [
        ("service.name", want_name),
        (
            "service.instance.id",
            spec.service_instance_id.value.clone(),
        ),
    ] {
        let got = r.get(&Key::from_static_str(key)).map(|v| v.to_string());
        if got.as_deref() != Some(want.as_str()) {
            out.push(format!(
                "the SDK's resource has {key}={} but the readers look for {want}",
                got.unwrap_or_else(|| "(unset)".into())
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::EnvSnapshot;
    use crate::config::resource::ResourceFlags;

    #[test]
    fn the_code_sets_what_the_environment_did_not() {
        let flags = ResourceFlags {
            service_name: Some("svc".into()),
            service_instance_id: Some("host-1".into()),
            ..Default::default()
        };
        let spec = ResourceSpec::resolve(&flags, &EnvSnapshot::default()).unwrap();
        let r = sdk_resource(&spec, false);
        assert!(resource_mismatches(&r, &spec, false).is_empty());
        let get = |k: &'static str| r.get(&Key::from_static_str(k)).map(|v| v.to_string());
        assert_eq!(get("service.name").as_deref(), Some("svc"));
        assert_eq!(get("telemetry.sdk.language").as_deref(), Some("rust"));
        let peer = sdk_resource(&spec, true);
        assert!(resource_mismatches(&peer, &spec, true).is_empty());
        assert_eq!(
            peer.get(&Key::from_static_str("service.name"))
                .map(|v| v.to_string()),
            Some("svc-peer".into())
        );
    }
}
