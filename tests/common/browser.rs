//! Headless Chromium for the tests that look at a page as a person would: the DOM after the
//! browser parsed it (`--dump-dom`) and a screenshot decoded to pixels. Chromium comes from
//! `.ci/install-tools` (OTEL_CANARY_CHROMIUM_BIN in its env file); without it these tests fail,
//! saying how to get it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(90);

pub struct Chromium {
    bin: PathBuf,
}

/// A decoded screenshot: RGB pixels.
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<[u8; 3]>,
}

impl Picture {
    /// The variance of the pixels' brightness: 0 for a blank (single-colour) picture.
    pub fn brightness_variance(&self) -> f64 {
        let lum: Vec<f64> = self
            .rgb
            .iter()
            .map(|[r, g, b]| 0.299 * *r as f64 + 0.587 * *g as f64 + 0.114 * *b as f64)
            .collect();
        let n = lum.len().max(1) as f64;
        let mean = lum.iter().sum::<f64>() / n;
        lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n
    }

    /// Pixels within `tolerance` (per channel) of `colour`.
    pub fn count_near(&self, colour: [u8; 3], tolerance: u8) -> usize {
        self.rgb
            .iter()
            .filter(|p| {
                p.iter()
                    .zip(colour)
                    .all(|(a, b)| a.abs_diff(b) <= tolerance)
            })
            .count()
    }

    /// Distinct colours in the picture.
    pub fn colours(&self) -> usize {
        let mut c: Vec<[u8; 3]> = self.rgb.clone();
        c.sort_unstable();
        c.dedup();
        c.len()
    }
}

/// Decodes a PNG into RGB pixels (alpha and palettes expanded, 16-bit stripped).
pub fn decode_png(bytes: &[u8]) -> Picture {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG ({} bytes)",
        bytes.len()
    );
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let mut rgb = Vec::with_capacity((info.width * info.height) as usize);
    for row in buf[..info.buffer_size()].chunks(info.line_size) {
        for px in row.chunks(channels).take(info.width as usize) {
            rgb.push(match channels {
                1 | 2 => [px[0]; 3],
                _ => [px[0], px[1], px[2]],
            });
        }
    }
    Picture {
        width: info.width,
        height: info.height,
        rgb,
    }
}

impl Chromium {
    /// Chromium from OTEL_CANARY_CHROMIUM_BIN, or else from the env file `.ci/install-tools`
    /// writes (so the README's test command needs no sourcing); panics, saying how to
    /// install it, otherwise.
    pub fn from_env() -> Chromium {
        let bin = std::env::var_os("OTEL_CANARY_CHROMIUM_BIN")
            .filter(|b| !b.is_empty())
            .or_else(|| from_tools_env_file("OTEL_CANARY_CHROMIUM_BIN").map(Into::into))
            .unwrap_or_else(|| {
                panic!(
                    "OTEL_CANARY_CHROMIUM_BIN is not set and the tools env file does not name \
                     it: the browser tests need headless Chromium. Run .ci/install-tools \
                     (CI's .ci/run does)"
                )
            });
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "OTEL_CANARY_CHROMIUM_BIN={} is not a file: run .ci/install-tools",
            bin.display()
        );
        Chromium { bin }
    }

    /// Runs Chromium headless on `url` with `extra` flags, in a fresh profile, and returns
    /// its stdout. Panics with its stderr when it fails or outlives `RUN_LIMIT`.
    fn run(&self, url: &str, extra: &[String]) -> Vec<u8> {
        let profile = tempfile::tempdir().expect("profile dir");
        let out_file = profile.path().join("stdout");
        let err_file = profile.path().join("stderr");
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_file).expect("stdout file"))
            .stderr(std::fs::File::create(&err_file).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.bin.display()));
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for chromium") {
                break s;
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish with {url} within {RUN_LIMIT:?}:\n{}",
                    std::fs::read_to_string(&err_file).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "chromium failed ({status}) on {url}:\n{}",
            std::fs::read_to_string(&err_file).unwrap_or_default()
        );
        std::fs::read(&out_file).expect("chromium's stdout")
    }

    /// The DOM of `url` after Chromium parsed and laid it out, serialised.
    pub fn dump_dom(&self, url: &str) -> String {
        let out = self.run(url, &["--dump-dom".to_string()]);
        let dom = String::from_utf8(out).expect("the DOM is UTF-8");
        assert!(
            dom.contains("<html"),
            "chromium printed no DOM for {url}: {dom}"
        );
        dom
    }

    /// A screenshot of `url` in a `width` x `height` window, as PNG bytes.
    pub fn screenshot(&self, url: &str, width: u32, height: u32) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("screenshot dir");
        let file = dir.path().join("shot.png");
        self.run(
            url,
            &[
                format!("--window-size={width},{height}"),
                format!("--screenshot={}", file.display()),
            ],
        );
        std::fs::read(&file).unwrap_or_else(|e| panic!("no screenshot of {url}: {e}"))
    }
}

/// `file://` URL of a local file.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The green of ok bars and badges, and the red of failures (`--ok`, `--bad` in the CSS).
pub const OK_GREEN: [u8; 3] = [0x2e, 0x7d, 0x32];
pub const BAD_RED: [u8; 3] = [0xc6, 0x28, 0x28];

/// Checks a screenshot is a PNG of the window's size and shows something: enough variance,
/// colours, and the drawn bars' green (and, for a failure, red).
pub fn assert_shows_a_page(png: &[u8], width: u32, height: u32, failed: bool) -> Picture {
    let pic = decode_png(png);
    assert_eq!((pic.width, pic.height), (width, height), "screenshot size");
    let variance = pic.brightness_variance();
    assert!(
        variance > 100.0,
        "screenshot looks blank: variance {variance:.1}"
    );
    assert!(pic.colours() > 50, "only {} colours", pic.colours());
    let green = pic.count_near(OK_GREEN, 12);
    assert!(green > 200, "no ok-green drawn ({green} pixels)");
    // The legend's failure sample is red on every page (about 70 pixels); a failed hop's
    // hatched bar, cross and badge add several hundred more.
    let red = pic.count_near(BAD_RED, 12);
    if failed {
        assert!(red > 400, "no failure-red drawn ({red} pixels)");
    } else {
        assert!(red < 150, "failure-red on a passing page ({red} pixels)");
    }
    eprintln!(
        "screenshot {width}x{height}: brightness variance {variance:.1}, {} colours, \
         {green} ok-green and {red} failure-red pixels",
        pic.colours()
    );
    pic
}

/// `VAR`'s value in the env file of `.ci/install-tools` (`$OTEL_CANARY_TOOLS_DIR/env`, by
/// default `~/.cache/otel-canary/tools/env`), if it is there.
fn from_tools_env_file(var: &str) -> Option<String> {
    let dir = std::env::var_os("OTEL_CANARY_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/otel-canary/tools"))
        })?;
    let text = std::fs::read_to_string(dir.join("env")).ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export ").or(Some(l.trim())))
        .find_map(|l| l.strip_prefix(var)?.strip_prefix('='))
        .map(|v| v.trim_matches(['"', '\'']).to_string())
        .filter(|v| !v.is_empty())
}
