//! What the lab received, kept in memory (bounded, oldest dropped first) so tests and the
//! query APIs can look at it.

use crate::emit::encoding::{Encoding, Payload};
use crate::signal::Signal;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

/// How many export requests the lab remembers; older ones are dropped.
pub const STORE_CAPACITY: usize = 10_000;

/// The transport a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceivedVia {
    Http(Encoding),
    Grpc,
}

/// One export request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub via: ReceivedVia,
    /// Request headers (HTTP) or metadata (gRPC), names lowercase.
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
    pub at: SystemTime,
}

impl Received {
    pub fn signal(&self) -> Signal {
        self.payload.signal()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Store {
    items: Mutex<VecDeque<Received>>,
}

impl Store {
    pub fn push(&self, r: Received) {
        let mut items = self.items.lock().expect("store lock");
        if items.len() >= STORE_CAPACITY {
            items.pop_front();
        }
        items.push_back(r);
    }

    /// Everything received for a signal, oldest first.
    pub fn of(&self, signal: Signal) -> Vec<Received> {
        let items = self.items.lock().expect("store lock");
        items
            .iter()
            .filter(|r| r.signal() == signal)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
