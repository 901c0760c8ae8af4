//! The lab playing a log agent (Promtail, Alloy's `loki.source.file`) on one file, so a pull
//! path for logs (a process writes JSON lines to a file or stdout, an agent ships them to
//! Loki) can be proven against the lab as against a real stack.
//!
//! Every `POLL_INTERVAL` it reads what was appended. A file that exists when tailing starts is
//! read from its beginning, as Promtail and Alloy read a file they have no saved position
//! for (and so a test can write, then start the lab). A file that does not exist yet is
//! waited for and read from its beginning once created. Truncation (the size drops below
//! what was read) restarts at the beginning; replacement (another inode at the path, as
//! after a rename-style rotation) first drains the old file, then reads the new one from its
//! beginning. A truncation followed, within one poll, by more writes than were read before
//! goes unnoticed, as it does for Promtail.
//!
//! Each complete line (ending in `\n`) becomes one Loki entry (`lab::tail_store`) stamped with
//! the time it was read; a trailing partial line waits for its newline. Lines longer than
//! `MAX_LINE_BYTES` are dropped, as Loki's default `max_line_size` (256 KB) rejects them.

use super::LabState;
use super::params::nanos_of;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// How often the file is checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Loki's default `max_line_size`.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// At most this much is read per poll, so one huge append cannot stall the lab; the rest
/// follows on the next polls.
const MAX_READ_PER_POLL: u64 = 4 << 20;

/// What identifies a file beyond its path (device and inode), to notice replacement.
type FileId = Option<(u64, u64)>;

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> FileId {
    None
}

struct OpenFile {
    file: File,
    id: FileId,
    offset: u64,
    partial: Vec<u8>,
    /// Inside a line already longer than `MAX_LINE_BYTES`: drop bytes up to its newline.
    overlong: bool,
}

impl OpenFile {
    fn open(path: &Path) -> Option<OpenFile> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok().filter(|m| m.is_file())?;
        Some(OpenFile {
            file,
            id: file_id(&meta),
            offset: 0,
            partial: Vec::new(),
            overlong: false,
        })
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.partial.clear();
        self.overlong = false;
    }

    /// Appends the complete lines written since the last read to `lines`.
    fn read_new(&mut self, lines: &mut Vec<String>) {
        let mut buf = Vec::new();
        let read = self.file.seek(SeekFrom::Start(self.offset)).and_then(|_| {
            (&mut self.file)
                .take(MAX_READ_PER_POLL)
                .read_to_end(&mut buf)
        });
        if read.is_err() {
            return;
        }
        self.offset += buf.len() as u64;
        for piece in buf.split_inclusive(|b| *b == b'\n') {
            let (body, complete) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            if !self.overlong {
                self.partial.extend_from_slice(body);
                if self.partial.len() > MAX_LINE_BYTES {
                    self.partial.clear();
                    self.overlong = true;
                }
            }
            if complete {
                if !self.overlong {
                    lines.push(String::from_utf8_lossy(&self.partial).into_owned());
                }
                self.partial.clear();
                self.overlong = false;
            }
        }
    }
}

/// Follows one path across creation, truncation and replacement; synchronous, so the task
/// runs it off the async threads and the tests drive it without a runtime.
pub(crate) struct Follower {
    path: PathBuf,
    open: Option<OpenFile>,
}

impl Follower {
    pub(crate) fn new(path: impl Into<PathBuf>) -> Follower {
        Follower {
            path: path.into(),
            open: None,
        }
    }

    /// The complete lines written since the last call, without their newline. Never fails: a
    /// missing or unreadable path just has no new lines yet.
    pub(crate) fn poll(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let now = std::fs::metadata(&self.path)
            .ok()
            .filter(std::fs::Metadata::is_file);
        match (&mut self.open, now) {
            (Some(open), Some(meta)) if open.id == file_id(&meta) => {
                if meta.len() < open.offset {
                    open.restart();
                }
                open.read_new(&mut lines);
                return lines;
            }
            // Replaced or removed: what was written to the old file before counts too.
            (Some(open), _) => open.read_new(&mut lines),
            (None, _) => {}
        }
        self.open = OpenFile::open(&self.path);
        if let Some(open) = &mut self.open {
            open.read_new(&mut lines);
        }
        lines
    }
}

/// Refuses a path that can never be tailed: one that exists but is not a readable regular
/// file (a directory, a device). A path that does not exist yet is fine.
pub fn check(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory, not a file",
        )),
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file",
        )),
        Ok(_) => File::open(path).map(drop),
    }
}

/// Starts tailing `path` into `state` until the handle is aborted.
pub(crate) fn spawn(state: Arc<LabState>, path: PathBuf) -> io::Result<JoinHandle<()>> {
    check(&path)?;
    let shown = path.to_string_lossy().into_owned();
    Ok(tokio::spawn(async move {
        let mut follower = Follower::new(path);
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_ns = 0i128;
        loop {
            tick.tick().await;
            let polled = tokio::task::spawn_blocking(move || {
                let lines = follower.poll();
                (follower, lines)
            })
            .await;
            let Ok((f, lines)) = polled else { return };
            follower = f;
            for line in lines {
                // Strictly increasing, so lines read together keep their order in Loki.
                last_ns = nanos_of(SystemTime::now()).max(last_ns + 1);
                state.tailed.push(&shown, last_ns, line);
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follows_creation_appends_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("canary.log");
        let mut f = Follower::new(&path);
        assert!(f.poll().is_empty(), "no file yet");
        append(&path, "one\ntwo\nthr");
        assert_eq!(f.poll(), ["one", "two"]);
        assert!(f.poll().is_empty());
        append(&path, "ee\r\n\n");
        assert_eq!(f.poll(), ["three\r", ""], "only the newline is cut");
    }

    #[test]
    fn truncation_and_replacement_restart_at_the_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("canary.log");
        append(&path, "first\nsecond\n");
        let mut f = Follower::new(&path);
        assert_eq!(
            f.poll(),
            ["first", "second"],
            "an existing file from its start"
        );
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(f.poll(), ["new"], "truncated: from the start");
        append(&path, "old tail\n");
        let rotated = dir.path().join("canary.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        append(&path, "fresh\n");
        assert_eq!(
            f.poll(),
            ["old tail", "fresh"],
            "the old file drained, the new one read from its start"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(f.poll().is_empty(), "gone: nothing, no error");
        append(&path, "back\n");
        assert_eq!(f.poll(), ["back"]);
    }

    #[test]
    fn overlong_lines_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("canary.log");
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        append(&path, &format!("short\n{long}\nafter\n"));
        assert_eq!(Follower::new(&path).poll(), ["short", "after"]);
    }

    #[test]
    fn check_refuses_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check(dir.path()).is_err());
        assert!(check(&dir.path().join("later.log")).is_ok());
        let file = dir.path().join("now.log");
        append(&file, "x\n");
        assert!(check(&file).is_ok());
    }
}
