//! Capturing the OpenTelemetry SDK's internal diagnostics. With `internal-logs` the SDK
//! reports export errors, partial successes and ignored settings as `tracing` events (target
//! = the crate's name), and it often reports them *only* there: a batch processor's export
//! failure is logged and `force_flush` may still return `Ok`. Printed to stderr they are
//! unstructured noise next to a report that says "ok"; captured, they belong to the probe
//! whose export caused them.
//!
//! Attribution: the canary's own calls into the SDK run with a sink set for the thread
//! ([`with_sink`]); the SDK's background threads (batch processors, the periodic reader) are
//! claimed by the first export they run, from inside the canary's HTTP client or gRPC
//! interceptor ([`claim_thread`]). Each probe builds its own providers, so its threads are
//! its own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::ThreadId;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;

/// The target prefix of every OpenTelemetry crate's events.
pub const OTEL_TARGET: &str = "opentelemetry";

/// One captured event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    pub name: String,
    /// Field name -> value (Debug-formatted values as the SDK wrote them).
    pub fields: Vec<(String, String)>,
}

impl Captured {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `k=v, k2=v2` without the `name` field.
    pub fn fields_text(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.fields.iter().filter(|(k, _)| k != "name") {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = write!(out, "{k}={v}");
        }
        out
    }
}

/// Where one probe's SDK events go.
#[derive(Debug, Default)]
pub struct Sink {
    events: Mutex<Vec<Captured>>,
}

/// Events kept per sink at most: a misbehaving exporter cannot grow a probe without bound.
const MAX_EVENTS: usize = 256;

impl Sink {
    pub fn new() -> Arc<Sink> {
        Arc::new(Sink::default())
    }

    fn push(&self, c: Captured) {
        let mut e = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() < MAX_EVENTS {
            e.push(c);
        }
    }

    /// Everything captured so far, in order.
    pub fn events(&self) -> Vec<Captured> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Sink>>> = const { RefCell::new(None) };
}

fn threads() -> &'static Mutex<HashMap<ThreadId, Weak<Sink>>> {
    static THREADS: OnceLock<Mutex<HashMap<ThreadId, Weak<Sink>>>> = OnceLock::new();
    THREADS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Runs `f` with this thread's SDK events going to `sink`.
pub fn with_sink<R>(sink: &Arc<Sink>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(Some(sink.clone())));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    out
}

/// Claims the calling thread (an SDK background thread running an export) for `sink`.
pub fn claim_thread(sink: &Arc<Sink>) {
    let id = std::thread::current().id();
    let mut map = threads().lock().unwrap_or_else(|p| p.into_inner());
    if map
        .get(&id)
        .and_then(Weak::upgrade)
        .is_some_and(|s| Arc::ptr_eq(&s, sink))
    {
        return;
    }
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(id, Arc::downgrade(sink));
}

fn sink_for_this_thread() -> Option<Arc<Sink>> {
    if let Some(s) = CURRENT.with(|c| c.borrow().clone()) {
        return Some(s);
    }
    let id = std::thread::current().id();
    threads()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .and_then(Weak::upgrade)
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// True once a [`CaptureLayer`] is part of a subscriber: without it the SDK's events are
/// lost (the report says so).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// The `tracing` layer that routes OpenTelemetry's events into probe sinks. Compose it with
/// [`capture_filter`] (it needs DEBUG for those targets: some facts, such as a gRPC channel's
/// endpoint or the server's status message, are only logged at DEBUG).
#[derive(Debug, Default)]
pub struct CaptureLayer;

/// DEBUG and above for the OpenTelemetry crates, nothing else.
pub fn capture_filter() -> Targets {
    Targets::new().with_target(OTEL_TARGET, Level::DEBUG)
}

struct FieldText<'a>(&'a mut Vec<(String, String)>);

impl Visit for FieldText<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_layer(&mut self, _subscriber: &mut S) {
        INSTALLED.store(true, Ordering::Relaxed);
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with(OTEL_TARGET) {
            return;
        }
        let Some(sink) = sink_for_this_thread() else {
            return;
        };
        let mut fields = Vec::new();
        event.record(&mut FieldText(&mut fields));
        let name = fields
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| meta.name().to_string());
        sink.push(Captured {
            level: *meta.level(),
            target: meta.target().to_string(),
            name,
            fields,
        });
    }
}

/// Installs a subscriber with only the capture layer when the process has none yet (library
/// users and tests); the binary composes the layer with its own log output instead.
pub fn ensure_installed() {
    if installed() {
        return;
    }
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber =
        tracing_subscriber::registry().with(CaptureLayer.with_filter(capture_filter()));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_the_sink_of_their_thread() {
        ensure_installed();
        if !installed() {
            // Another test's subscriber got there first; nothing to check in this process.
            return;
        }
        let a = Sink::new();
        with_sink(&a, || {
            tracing::warn!(target: "opentelemetry_sdk", name = "Test.Warn", error = "boom");
            tracing::warn!(target: "otel_canary", "not ours");
        });
        let b = Sink::new();
        let b2 = b.clone();
        std::thread::spawn(move || {
            claim_thread(&b2);
            tracing::error!(target: "opentelemetry-otlp", name = "Test.Error", code = 14);
        })
        .join()
        .unwrap();
        let got = a.events();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].name, "Test.Warn");
        assert_eq!(got[0].field("error"), Some("boom"));
        assert_eq!(got[0].fields_text(), "error=boom");
        let got = b.events();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].level, Level::ERROR);
        assert_eq!(got[0].field("code"), Some("14"));
    }
}
