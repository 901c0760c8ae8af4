//! The emitter a round trip sends its probe with: the wire exporter (the canary's own OTLP
//! requests) or the SDK emitter. Both give the same `ExportOutcome`, so reading back,
//! reports and metrics do not care which sent the probe.

use super::exporter::Exporter;
use super::outcome::ExportOutcome;
use super::payload::MetricTag;
use super::sdk::SdkEmitter;
use crate::config::emitter::Emitter;
use crate::config::resource::ResourceSpec;
use crate::probe::Probe;
use crate::signal::Signal;

/// Sends one probe's signals.
pub enum ProbeEmitter {
    Wire(Exporter),
    Sdk(Box<SdkEmitter>),
}

impl ProbeEmitter {
    pub fn kind(&self) -> Emitter {
        match self {
            ProbeEmitter::Wire(_) => Emitter::Wire,
            ProbeEmitter::Sdk(_) => Emitter::Sdk,
        }
    }

    /// The signals it sends, in order.
    pub fn signals(&self) -> Vec<Signal> {
        match self {
            ProbeEmitter::Wire(e) => e.signals(),
            ProbeEmitter::Sdk(e) => e.signals(),
        }
    }

    /// Exports one signal of the probe; `None` when it does not send that signal. The SDK
    /// emitter builds its own resource from the environment (checked against `resource`).
    pub async fn export_one(
        &self,
        signal: Signal,
        probe: &Probe,
        resource: &ResourceSpec,
        tag: MetricTag,
    ) -> Option<ExportOutcome> {
        match self {
            ProbeEmitter::Wire(e) => e.export_one(signal, probe, resource, tag).await,
            ProbeEmitter::Sdk(e) => e.export_one(signal, probe).await,
        }
    }

    /// Exports every signal concurrently, in signal order.
    pub async fn export(
        &self,
        probe: &Probe,
        resource: &ResourceSpec,
        tag: MetricTag,
    ) -> Vec<ExportOutcome> {
        match self {
            ProbeEmitter::Wire(e) => e.export(probe, resource, tag).await,
            ProbeEmitter::Sdk(e) => e.export(probe).await,
        }
    }
}
