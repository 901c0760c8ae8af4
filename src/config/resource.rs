//! The OTel resource the probe reports as: `service.name`, `service.instance.id`,
//! `service.version` and `OTEL_RESOURCE_ATTRIBUTES`, resolved as an instrumented app would.

use super::env::EnvSnapshot;
use super::{ConfigError, Provenance, Sourced};
use percent_encoding::percent_decode_str;

/// Resource attributes for the probe's primary service, plus the name of the peer service
/// that owns the server span (so Tempo's service graph gets an edge).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSpec {
    pub service_name: Sourced<String>,
    pub service_instance_id: Sourced<String>,
    pub service_version: String,
    /// Further attributes from `OTEL_RESOURCE_ATTRIBUTES`, in the order given.
    pub extra: Vec<(String, String)>,
}

/// Flag values that override the environment.
#[derive(Clone, Debug, Default)]
pub struct ResourceFlags {
    pub service_name: Option<String>,
    pub service_instance_id: Option<String>,
    /// From a scenario file: below the flags, above the environment.
    pub scenario_service_name: Option<Sourced<String>>,
    pub scenario_service_instance_id: Option<Sourced<String>>,
}

pub const DEFAULT_SERVICE_NAME: &str = "otel-canary";

impl ResourceSpec {
    /// The service that owns the `canary.server` span.
    pub fn peer_service_name(&self) -> String {
        format!("{}-peer", self.service_name.value)
    }

    /// Resolves the resource: flags, then `OTEL_SERVICE_NAME`, then `OTEL_RESOURCE_ATTRIBUTES`,
    /// then defaults (the host name for the instance id).
    pub fn resolve(flags: &ResourceFlags, env: &EnvSnapshot) -> Result<ResourceSpec, ConfigError> {
        const RA: &str = "OTEL_RESOURCE_ATTRIBUTES";
        let mut attrs = match env.get(RA) {
            Some(raw) => {
                parse_resource_attributes(raw).map_err(|problem| ConfigError::new(RA, problem))?
            }
            None => Vec::new(),
        };
        let mut take = |key: &str| -> Option<String> {
            let pos = attrs.iter().position(|(k, _)| k == key)?;
            Some(attrs.remove(pos).1)
        };
        let ra_name = take("service.name");
        let ra_instance = take("service.instance.id");
        let ra_version = take("service.version");

        let service_name = if let Some(v) = flags.service_name.clone() {
            Sourced::new(v, Provenance::flag("--service-name"))
        } else if let Some(v) = flags.scenario_service_name.clone() {
            v
        } else if let Some(v) = env.get("OTEL_SERVICE_NAME") {
            Sourced::new(v.to_string(), Provenance::env("OTEL_SERVICE_NAME"))
        } else if let Some(v) = ra_name {
            Sourced::new(v, Provenance::env(RA))
        } else {
            Sourced::default_value(DEFAULT_SERVICE_NAME.to_string())
        };
        if service_name.value.trim().is_empty() {
            return Err(ConfigError::at(
                &service_name.source,
                "service name is empty",
            ));
        }
        let service_instance_id = if let Some(v) = flags.service_instance_id.clone() {
            Sourced::new(v, Provenance::flag("--service-instance-id"))
        } else if let Some(v) = flags.scenario_service_instance_id.clone() {
            v
        } else if let Some(v) = ra_instance {
            Sourced::new(v, Provenance::env(RA))
        } else {
            Sourced::default_value(gethostname::gethostname().to_string_lossy().into_owned())
        };
        // An empty instance id would label the marker series `instance=""`, which the read
        // side cannot tell from another canary's: refused like an empty service name.
        if service_instance_id.value.trim().is_empty() {
            return Err(ConfigError::at(
                &service_instance_id.source,
                "service instance id is empty",
            ));
        }
        Ok(ResourceSpec {
            service_name,
            service_instance_id,
            service_version: ra_version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            extra: attrs,
        })
    }
}

/// Parses `k=v,k2=v2` with percent-decoding. The spec says a decode error discards the whole
/// value; we refuse it instead, because a canary that silently drops its config misleads.
pub fn parse_resource_attributes(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}' is not key=value"))?;
        let dec = |s: &str| {
            percent_decode_str(s.trim())
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| format!("'{item}' is not valid UTF-8 after percent-decoding"))
        };
        let (k, v) = (dec(k)?, dec(v)?);
        if k.is_empty() {
            return Err(format!("'{item}' has an empty key"));
        }
        out.retain(|(old, _)| *old != k);
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_then_service_name_env_then_attributes() {
        let env = EnvSnapshot::from_pairs([
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=ra,service.instance.id=i-1,team=a%2Cb",
            ),
            ("OTEL_SERVICE_NAME", "envname"),
        ]);
        let r = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap();
        assert_eq!(r.service_name.value, "envname");
        assert_eq!(r.service_name.source, Provenance::env("OTEL_SERVICE_NAME"));
        assert_eq!(r.service_instance_id.value, "i-1");
        assert_eq!(r.extra, vec![("team".to_string(), "a,b".to_string())]);
        let flags = ResourceFlags {
            service_name: Some("flagname".into()),
            ..Default::default()
        };
        let r = ResourceSpec::resolve(&flags, &env).unwrap();
        assert_eq!(r.service_name.value, "flagname");
        assert_eq!(r.peer_service_name(), "flagname-peer");
    }

    #[test]
    fn defaults_use_the_host_name() {
        let r = ResourceSpec::resolve(&ResourceFlags::default(), &EnvSnapshot::default()).unwrap();
        assert_eq!(r.service_name.value, "otel-canary");
        assert_eq!(r.service_name.source, Provenance::Default);
        assert!(!r.service_instance_id.value.is_empty());
    }

    #[test]
    fn an_empty_instance_id_is_refused_naming_its_setting() {
        // Found by fuzzing (resource_attrs): `service.instance.id=` was taken as the id.
        let env = EnvSnapshot::from_pairs([("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=")]);
        let e = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap_err();
        assert_eq!(e.input, "env OTEL_RESOURCE_ATTRIBUTES");
        assert!(e.problem.contains("instance id is empty"), "{e}");
    }

    #[test]
    fn malformed_attributes_are_refused_naming_the_variable() {
        let env = EnvSnapshot::from_pairs([("OTEL_RESOURCE_ATTRIBUTES", "novalue")]);
        let e = ResourceSpec::resolve(&ResourceFlags::default(), &env).unwrap_err();
        assert_eq!(e.input, "OTEL_RESOURCE_ATTRIBUTES");
    }
}
