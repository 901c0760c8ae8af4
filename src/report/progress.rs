//! A live line per signal on stderr while a run polls, drawn only on a terminal.

use crate::roundtrip::outcome::Status;
use crate::roundtrip::{Progress, ProgressEvent};
use crate::signal::Signal;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// Spinners on stderr, one per signal.
pub struct TerminalProgress {
    multi: MultiProgress,
    bars: Vec<(Signal, ProgressBar)>,
}

impl TerminalProgress {
    pub fn new(signals: &[Signal]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix:>6} {wide_msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = signals
            .iter()
            .map(|s| {
                let b = multi.add(ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.set_prefix(s.to_string());
                b.enable_steady_tick(Duration::from_millis(120));
                (*s, b)
            })
            .collect();
        TerminalProgress { multi, bars }
    }

    /// Removes the lines before the report is printed.
    pub fn finish(&self) {
        for (_, b) in &self.bars {
            b.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Progress for TerminalProgress {
    fn event(&self, signal: Signal, event: ProgressEvent) {
        let Some((_, bar)) = self.bars.iter().find(|(s, _)| *s == signal) else {
            return;
        };
        match event {
            ProgressEvent::Exporting => bar.set_message("exporting"),
            ProgressEvent::Polling { backend, queries } => {
                bar.set_message(format!("waiting for {backend} ({queries} queries)"))
            }
            ProgressEvent::Done { status } => {
                bar.set_message(match status {
                    Status::Ok => "visible".to_string(),
                    other => other.to_string(),
                });
                bar.finish();
            }
        }
    }
}
