//! Reads a scraped `/metrics` page the way Prometheus 2.53's text parsers do: the classic
//! text format 0.0.4 and OpenMetrics 1.0 text, chosen by the answer's Content-Type as
//! Prometheus chooses it. The lab's scraper needs this to store exactly the samples a real
//! scrape would, and to fail (`up` 0) on exactly the pages a real scrape fails on.
//!
//! Hand-written because no crate in the dependency tree parses the format: `prometheus-client`
//! only writes it. Only what Prometheus keeps of a page is returned (samples with their
//! labels and optional timestamp); HELP/TYPE/UNIT are checked for shape and dropped,
//! exemplars are skipped.

use std::fmt;

/// Which text grammar a page is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and anything Prometheus does not recognise): free
    /// comments, blank lines, integer millisecond timestamps, no `# EOF`.
    Text,
    /// `application/openmetrics-text`: must end in `# EOF`, no blank lines, timestamps in
    /// float seconds, exemplars after ` # `.
    OpenMetrics,
}

impl Format {
    /// Prometheus' `textparse.New`: OpenMetrics for `application/openmetrics-text`, the
    /// classic parser for everything else, a missing or unparsable header included.
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        let media = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// One sample line as exposed.
#[derive(Clone, Debug, PartialEq)]
pub struct ExposedSample {
    pub name: String,
    /// In page order; empty values included (the scraper drops them, as Prometheus does).
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The sample's own timestamp, in ms since the epoch, when the page gave one.
    pub timestamp_ms: Option<i64>,
}

/// Why a page does not parse: the 1-based line and what is wrong there. A scrape that meets
/// one stores `up` 0 and nothing from the page, as Prometheus does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

const TEXT_TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];
const OPENMETRICS_TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "stateset",
    "info",
    "summary",
    "unknown",
];

/// Parses a whole page. Any bad line fails the page (Prometheus stores nothing of a scrape
/// whose page does not parse).
pub fn parse(body: &[u8], format: Format) -> Result<Vec<ExposedSample>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| ParseError {
        line: 1 + body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        message: "invalid UTF-8".into(),
    })?;
    let mut samples = Vec::new();
    let mut eof = false;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let at = |message: String| ParseError {
            line: i + 1,
            message,
        };
        // The empty string after the page's final newline is not a line.
        let last = lines.peek().is_none();
        if eof {
            if last && line.is_empty() {
                break;
            }
            return Err(at("unexpected data after # EOF".into()));
        }
        if line.is_empty() {
            if format == Format::OpenMetrics && !last {
                return Err(at("blank lines are not allowed in OpenMetrics".into()));
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            eof = comment_line(comment, format).map_err(at)?;
            continue;
        }
        if line.trim().is_empty() && format == Format::Text {
            continue;
        }
        samples.push(sample_line(line, format).map_err(at)?);
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ParseError {
            line: text.split('\n').count(),
            message: "data does not end with # EOF".into(),
        });
    }
    Ok(samples)
}

/// Checks a `#` line; returns whether it is the OpenMetrics `# EOF`.
fn comment_line(comment: &str, format: Format) -> Result<bool, String> {
    if format == Format::OpenMetrics && comment == " EOF" {
        return Ok(true);
    }
    let mut words = comment.split([' ', '\t']).filter(|w| !w.is_empty());
    let (kind, types) = match (words.next(), format) {
        (Some("TYPE"), Format::Text) => ("TYPE", TEXT_TYPES),
        (Some("TYPE"), Format::OpenMetrics) => ("TYPE", OPENMETRICS_TYPES),
        (Some(k @ ("HELP" | "UNIT")), Format::OpenMetrics) => (k, &[][..]),
        (Some("HELP"), Format::Text) => ("HELP", &[][..]),
        // Any other comment carries nothing Prometheus keeps.
        _ => return Ok(false),
    };
    let Some(name) = words.next() else {
        return Err(format!("# {kind} without a metric name"));
    };
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in # {kind}"));
    }
    if kind == "TYPE" {
        match words.next() {
            Some(t) if types.contains(&t) => {}
            Some(t) => return Err(format!("invalid metric type {t:?}")),
            None => return Err(format!("# TYPE {name} without a type")),
        }
    }
    Ok(false)
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A cursor over one line's bytes; every delimiter is ASCII, so slicing between them keeps
/// UTF-8 intact.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    fn blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        &self.line[start..self.pos]
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|b| b != b' ' && b != b'\t')
    }

    fn expect(&mut self, want: u8, context: &str) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(format!(
                "expected {:?} {context}, got {:?}",
                want as char,
                String::from_utf8_lossy(&[b])
            )),
            None => Err(format!(
                "expected {:?} {context}, got end of line",
                want as char
            )),
        }
    }

    /// A `"…"` label value with the exposition's escapes: `\\`, `\"` and `\n` are replaced,
    /// any other backslash stays as written (Prometheus' `lvalReplacer`).
    fn quoted(&mut self) -> Result<String, String> {
        self.expect(b'"', "before a label value")?;
        let bytes = self.line.as_bytes();
        let mut out = Vec::new();
        while let Some(&b) = bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|_| "invalid UTF-8".into()),
                b'\\' => match bytes.get(self.pos) {
                    Some(b'\\') => out.push(b'\\'),
                    Some(b'"') => out.push(b'"'),
                    Some(b'n') => out.push(b'\n'),
                    Some(&other) => out.extend([b'\\', other]),
                    None => break,
                },
                _ => {
                    out.push(b);
                    continue;
                }
            }
            self.pos += 1;
        }
        Err("unterminated label value".into())
    }
}

fn sample_line(line: &str, format: Format) -> Result<ExposedSample, String> {
    let mut c = Cursor { line, pos: 0 };
    if format == Format::Text {
        c.blanks();
    }
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !is_metric_name(name) {
        let shown: String = line.chars().take(40).collect();
        return Err(format!("expected a metric name at the start of {shown:?}"));
    }
    let mut spaced = if format == Format::Text {
        c.blanks()
    } else {
        0
    };
    let mut labels: Vec<(String, String)> = Vec::new();
    if c.peek() == Some(b'{') {
        c.pos += 1;
        loop {
            c.blanks();
            if c.peek() == Some(b'}') {
                c.pos += 1;
                break;
            }
            let label = c.take_while(is_label_char);
            if !label.bytes().next().is_some_and(is_label_start) {
                return Err(format!("invalid label name in {name}"));
            }
            c.blanks();
            c.expect(b'=', &format!("after label name {label}"))?;
            c.blanks();
            let value = c.quoted()?;
            if labels.iter().any(|(l, _)| l == label) {
                return Err(format!("duplicate label name {label:?} in {name}"));
            }
            labels.push((label.to_string(), value));
            c.blanks();
            match c.peek() {
                Some(b',') => c.pos += 1,
                Some(b'}') => {
                    c.pos += 1;
                    break;
                }
                _ => return Err(format!("expected \",\" or \"}}\" in the labels of {name}")),
            }
        }
        spaced = 0;
    }
    spaced += c.blanks();
    if spaced == 0 {
        return Err(format!("expected a space and a value after {name}"));
    }
    let raw = c.token();
    let value = parse_value(raw).ok_or_else(|| format!("invalid value {raw:?} for {name}"))?;
    let mut timestamp_ms = None;
    c.blanks();
    if c.peek().is_some() && !(format == Format::OpenMetrics && c.peek() == Some(b'#')) {
        let raw = c.token();
        timestamp_ms = Some(
            parse_timestamp(raw, format)
                .ok_or_else(|| format!("invalid timestamp {raw:?} for {name}"))?,
        );
        c.blanks();
    }
    match c.peek() {
        None => {}
        // An exemplar: Prometheus keeps it apart from the sample; the lab has no use for it.
        Some(b'#') if format == Format::OpenMetrics => {}
        Some(_) => {
            return Err(format!(
                "unexpected {:?} after the sample of {name}",
                &line[c.pos..]
            ));
        }
    }
    Ok(ExposedSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Go's `strconv.ParseFloat` for the spellings pages use: decimals, exponents, `NaN`, `Inf`,
/// `+Inf`, `-Inf` (any case).
fn parse_value(raw: &str) -> Option<f64> {
    if raw.is_empty() || raw.contains('_') {
        return None;
    }
    raw.parse::<f64>().ok()
}

/// Text: integer milliseconds. OpenMetrics: float seconds, kept to the millisecond.
fn parse_timestamp(raw: &str, format: Format) -> Option<i64> {
    match format {
        Format::Text => raw.parse::<i64>().ok(),
        Format::OpenMetrics => {
            let secs = parse_value(raw).filter(|s| s.is_finite())?;
            let ms = (secs * 1000.0).round();
            (ms.abs() < i64::MAX as f64).then_some(ms as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str, format: Format) -> ExposedSample {
        let mut all = parse(line.as_bytes(), format).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn reads_the_canary_page_as_openmetrics() {
        let page = "# HELP otel_canary_scrape_marker The marker.\n\
                    # TYPE otel_canary_scrape_marker gauge\n\
                    otel_canary_scrape_marker{scenario=\"lab\"} 1763719200123\n\
                    # TYPE otel_canary_probes counter\n\
                    # UNIT otel_canary_probes probes\n\
                    otel_canary_probes_total{scenario=\"lab\",result=\"ok\"} 3 # {trace_id=\"ab\"} 1.0 1763719200.5\n\
                    otel_canary_probes_created{scenario=\"lab\",result=\"ok\"} 1763719100.25\n\
                    # EOF\n";
        let s = parse(page.as_bytes(), Format::OpenMetrics).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "otel_canary_scrape_marker");
        assert_eq!(s[0].labels, vec![("scenario".into(), "lab".into())]);
        assert_eq!(s[0].value, 1763719200123.0);
        assert_eq!(s[0].timestamp_ms, None);
        assert_eq!(s[1].value, 3.0, "the exemplar is not the value");
        assert_eq!(s[1].timestamp_ms, None, "nor the timestamp");
        assert_eq!(s[2].value, 1763719100.25);
    }

    #[test]
    fn reads_text_0_0_4_with_comments_blank_lines_and_no_eof() {
        let page = "# A free comment\n\n# HELP up_like help text \\n with escapes\n\
                    # TYPE http_requests_total counter\n\
                    http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                    http_requests_total { method = \"get\" , } 3\n\
                    metric_without_labels 12.47\n\
                    \t  indented_metric 1e3\n";
        let s = parse(page.as_bytes(), Format::Text).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].timestamp_ms, Some(1395066363000));
        assert_eq!(s[1].labels, vec![("method".into(), "get".into())]);
        assert_eq!(s[2].labels, vec![]);
        assert_eq!(s[2].value, 12.47);
        assert_eq!(s[3].value, 1000.0);
        // `# EOF` is just a comment in the classic format.
        assert_eq!(parse(b"a 1\n# EOF\nb 2\n", Format::Text).unwrap().len(), 2);
    }

    #[test]
    fn label_values_unescape_like_prometheus() {
        let s = one(
            r#"m{path="C:\\dir",quote="say \"hi\"",nl="a\nb",tab="x\ty",utf="größe # {x}"} 1"#,
            Format::Text,
        );
        let get = |k: &str| s.labels.iter().find(|(l, _)| l == k).unwrap().1.clone();
        assert_eq!(get("path"), "C:\\dir");
        assert_eq!(get("quote"), "say \"hi\"");
        assert_eq!(get("nl"), "a\nb");
        assert_eq!(get("tab"), "x\\ty", "unknown escapes stay as written");
        assert_eq!(get("utf"), "größe # {x}");
    }

    #[test]
    fn special_values_and_timestamps() {
        assert_eq!(one("a +Inf", Format::Text).value, f64::INFINITY);
        assert_eq!(one("a -Inf", Format::Text).value, f64::NEG_INFINITY);
        assert!(one("a NaN", Format::Text).value.is_nan());
        assert_eq!(one("a -1.5e-3 -5", Format::Text).timestamp_ms, Some(-5));
        let om = parse(b"a 1 1763719200.123\n# EOF\n", Format::OpenMetrics).unwrap();
        assert_eq!(om[0].timestamp_ms, Some(1763719200123));
        let om = parse(b"a 1 1763719200\n# EOF", Format::OpenMetrics).unwrap();
        assert_eq!(
            om[0].timestamp_ms,
            Some(1763719200000),
            "no newline after # EOF"
        );
    }

    #[test]
    fn content_type_chooses_the_grammar() {
        for (ct, want) in [
            (
                Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                Format::OpenMetrics,
            ),
            (Some("Application/OpenMetrics-Text"), Format::OpenMetrics),
            (Some("text/plain; version=0.0.4"), Format::Text),
            (Some("text/html"), Format::Text),
            (Some(";;"), Format::Text),
            (None, Format::Text),
        ] {
            assert_eq!(Format::from_content_type(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn bad_pages_are_errors_naming_the_line() {
        let cases: &[(&[u8], Format, usize, &str)] = &[
            (b"a 1\n", Format::OpenMetrics, 2, "# EOF"),
            (b"a 1\n# EOF\nb 2\n", Format::OpenMetrics, 3, "after # EOF"),
            (b"a 1\n\n# EOF\n", Format::OpenMetrics, 2, "blank"),
            (b"a 1\nb\n", Format::Text, 2, "value"),
            (b"a one\n", Format::Text, 1, "invalid value"),
            (b"a 1 1.5\n", Format::Text, 1, "timestamp"),
            (b"a 1 2 3\n", Format::Text, 1, "unexpected"),
            (b"a 1 # {x=\"y\"} 1\n", Format::Text, 1, "timestamp"),
            (b"a{b=\"c\" 1\n", Format::Text, 1, "\"}\""),
            (b"a{b=\"c} 1\n", Format::Text, 1, "unterminated"),
            (b"a{b=c} 1\n", Format::Text, 1, "label value"),
            (b"a{1b=\"c\"} 1\n", Format::Text, 1, "label name"),
            (b"a{b=\"1\",b=\"2\"} 1\n", Format::Text, 1, "duplicate"),
            (b"1a 1\n", Format::Text, 1, "metric name"),
            (b"{a=\"b\"} 1\n", Format::Text, 1, "metric name"),
            (b"a{b=\"c\"}1\n", Format::Text, 1, "space"),
            (b"# TYPE a gauges\na 1\n", Format::Text, 1, "type"),
            (b"# TYPE a\na 1\n", Format::Text, 1, "type"),
            (b"# TYPE a info\n# EOF\n", Format::Text, 1, "type"),
            (b"# HELP\n", Format::Text, 1, "name"),
            (b"a 1\n\xff\n", Format::Text, 2, "UTF-8"),
            (b"<html>oops</html>\n", Format::Text, 1, "metric name"),
        ];
        for (page, format, line, needle) in cases {
            let err = parse(page, *format).unwrap_err();
            assert_eq!(
                err.line,
                *line,
                "{:?}: {err}",
                String::from_utf8_lossy(page)
            );
            assert!(
                err.to_string().contains(needle),
                "{:?}: {err} should mention {needle}",
                String::from_utf8_lossy(page)
            );
        }
    }

    #[test]
    fn openmetrics_types_are_accepted_there_only() {
        assert!(parse(b"# TYPE a info\na_info 1\n# EOF\n", Format::OpenMetrics).is_ok());
        assert!(parse(b"# TYPE a stateset\n# EOF\n", Format::OpenMetrics).is_ok());
        assert!(parse(b"# TYPE a untyped\n# EOF\n", Format::OpenMetrics).is_err());
        assert!(parse(b"", Format::Text).unwrap().is_empty());
    }
}
