//! The LogQL subset the lab's Loki understands: a stream selector `{a="x", b=~"re", c!="y",
//! d!~"re"}` followed by line filters (`|= "s"`, `!= "s"`, `|~ "re"`, `!~ "re"`) and label
//! filters (`| key="v"`, `!=`, `=~`, `!~`, several joined by `,` or `and`) over index labels
//! and structured metadata; and, for instant queries, `count_over_time(<that>[<range>])`,
//! optionally aggregated (`sum`, `count`, `min`, `max`, `avg`, with `by (labels)`) and
//! compared with a number (`sum(count_over_time({app="x"}[5m])) > 0`).
//! Errors read as Loki's (`parse error at line 1, col N: syntax error: …`).

use super::aggregate::{AggOp, Aggregation, CmpOp, Comparison};
use super::lexing::{Tokens, read_string, word_end};
use super::loki_mapping::LokiEntry;
use super::params::parse_prom_duration;
use regex::Regex;
use std::collections::BTreeMap;

/// A label matcher operator: `=`, `!=`, `=~`, `!~` (shared with PromQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

/// A label matcher; regexes are fully anchored, as in Prometheus.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// A matcher; regexes are compiled fully anchored (`^(?s:re)$`), as Prometheus does.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, regex::Error> {
        let re = match op {
            MatchOp::Re | MatchOp::NotRe => Some(Regex::new(&format!("^(?s:{value})$"))?),
            MatchOp::Eq | MatchOp::Ne => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Whether a label value (empty when absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => value == self.value,
            (MatchOp::Ne, _) => value != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::NotRe, Some(re)) => !re.is_match(value),
            _ => false,
        }
    }

    /// Whether it matches a label set (absent labels count as empty).
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches(labels.get(&self.name).map(String::as_str).unwrap_or(""))
    }
}

/// Go's regexp error wording for a pattern the regex crate refused: `error parsing regexp:
/// <reason>: `<pattern>``, on one line (the crate's message is multi-line and shows the
/// anchored wrapper the lab adds).
pub fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.trim());
    format!("error parsing regexp: {reason}: `{pattern}`")
}

/// A pipeline stage.
#[derive(Clone, Debug)]
pub enum Stage {
    /// `|=` (contains), `!=` (does not contain), `|~` / `!~` (regex, unanchored).
    Line {
        negate: bool,
        text: String,
        re: Option<Regex>,
    },
    /// Label filters that must all hold.
    Labels(Vec<Matcher>),
}

/// A log query.
#[derive(Clone, Debug)]
pub struct LogQuery {
    pub selector: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// A parsed LogQL expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Log(LogQuery),
    Metric(MetricQuery),
}

/// `[agg [by (…)] (] count_over_time(<log query>[<range>]) [)] [<op> <number>]`.
#[derive(Clone, Debug)]
pub struct MetricQuery {
    pub query: LogQuery,
    pub range_ms: i64,
    pub aggregation: Option<Aggregation>,
    pub comparison: Option<Comparison>,
}

/// A parse failure; `Display` is Loki's 400 body.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// 0 for errors Loki reports without a position.
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.col == 0 {
            write!(f, "parse error : {}", self.message)
        } else {
            write!(
                f,
                "parse error at line 1, col {}: {}",
                self.col, self.message
            )
        }
    }
}

/// Loki's answer to a selector that only has empty-compatible matchers.
pub const EMPTY_MATCHER_ERROR: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Pipe,
    PipeExact,
    PipeMatch,
    Eq,
    Neq,
    Re,
    Nre,
    Ident(String),
    Str(String),
    Duration(String),
    Other(String),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::Comma => ",".into(),
            Tok::Pipe => "|".into(),
            Tok::PipeExact => "|=".into(),
            Tok::PipeMatch => "|~".into(),
            Tok::Eq => "=".into(),
            Tok::Neq => "!=".into(),
            Tok::Re => "=~".into(),
            Tok::Nre => "!~".into(),
            Tok::Ident(_) => "IDENTIFIER".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Duration(_) => "RANGE".into(),
            Tok::Other(s) => s.clone(),
            Tok::Eof => "$end".into(),
        }
    }
}

fn lex(q: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = q.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('{', _) => (Tok::LBrace, 1),
            ('}', _) => (Tok::RBrace, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            (']', _) => (Tok::RBracket, 1),
            ('[', _) => {
                // A range: `[5m]`.
                let end = chars[i..].iter().position(|c| *c == ']').map(|p| i + p);
                match end {
                    Some(e) => {
                        toks.push((Tok::LBracket, col));
                        let d: String = chars[i + 1..e].iter().collect();
                        toks.push((Tok::Duration(d.trim().to_string()), col + 1));
                        toks.push((Tok::RBracket, e + 1));
                        i = e + 1;
                        continue;
                    }
                    None => (Tok::LBracket, 1),
                }
            }
            ('|', Some('=')) => (Tok::PipeExact, 2),
            ('|', Some('~')) => (Tok::PipeMatch, 2),
            ('|', _) => (Tok::Pipe, 1),
            ('!', Some('=')) => (Tok::Neq, 2),
            ('!', Some('~')) => (Tok::Nre, 2),
            ('=', Some('~')) => (Tok::Re, 2),
            ('=', Some('=')) => (Tok::Other("==".into()), 2),
            ('=', _) => (Tok::Eq, 1),
            ('"' | '`', _) => {
                let (s, end) = read_string(&chars, i).map_err(|_| ParseError {
                    col,
                    message: "syntax error: unexpected $end".into(),
                })?;
                toks.push((Tok::Str(s), col));
                i = end;
                continue;
            }
            _ if c.is_ascii_alphabetic() || c == '_' => {
                let j = word_end(&chars, i, |c| c.is_ascii_alphanumeric() || c == '_');
                (Tok::Ident(chars[i..j].iter().collect()), j - i)
            }
            _ => (Tok::Other(c.to_string()), 1),
        };
        toks.push((tok, col));
        i += len;
    }
    toks.push((Tok::Eof, chars.len() + 1));
    Ok(toks)
}

type Parser = Tokens<Tok>;

impl Tokens<Tok> {
    fn err(&self, (tok, col): &(Tok, usize), expecting: &str) -> ParseError {
        let mut message = format!("syntax error: unexpected {}", tok.describe());
        if !expecting.is_empty() {
            message.push_str(", expecting ");
            message.push_str(expecting);
        }
        ParseError { col: *col, message }
    }

    fn unsupported(&self, col: usize, what: &str) -> ParseError {
        ParseError {
            col,
            message: format!("otel-canary lab: {what} is not supported by the lab's LogQL"),
        }
    }
}

fn line_regex(pattern: &str, col: usize) -> Result<Regex, ParseError> {
    Regex::new(pattern).map_err(|e| ParseError {
        col,
        message: regex_error(pattern, &e),
    })
}

fn matcher(p: &mut Parser, name: String, name_col: usize) -> Result<Matcher, ParseError> {
    let t = p.next();
    let op = match t.0 {
        Tok::Eq => MatchOp::Eq,
        Tok::Neq => MatchOp::Ne,
        Tok::Re => MatchOp::Re,
        Tok::Nre => MatchOp::NotRe,
        _ => return Err(p.err(&t, "")),
    };
    let t = p.next();
    let Tok::Str(value) = t.0 else {
        return Err(p.err(&t, ""));
    };
    Matcher::new(&name, op, &value).map_err(|e| ParseError {
        col: name_col,
        message: regex_error(&value, &e),
    })
}

fn selector(p: &mut Parser) -> Result<Vec<Matcher>, ParseError> {
    let t = p.next();
    if t.0 != Tok::LBrace {
        return Err(p.err(&t, ""));
    }
    let mut matchers = Vec::new();
    loop {
        let t = p.next();
        let Tok::Ident(name) = t.0 else {
            return Err(p.err(&t, ""));
        };
        matchers.push(matcher(p, name, t.1)?);
        let t = p.next();
        match t.0 {
            Tok::Comma => continue,
            Tok::RBrace => break,
            _ => return Err(p.err(&t, "} or ,")),
        }
    }
    let usable = matchers
        .iter()
        .any(|m| matches!(m.op, MatchOp::Eq | MatchOp::Re) && !m.matches(""));
    if !usable {
        return Err(ParseError {
            col: 0,
            message: EMPTY_MATCHER_ERROR.into(),
        });
    }
    Ok(matchers)
}

fn log_query(p: &mut Parser) -> Result<LogQuery, ParseError> {
    let selector = selector(p)?;
    let mut stages = Vec::new();
    loop {
        let t = p.peek().clone();
        match t.0 {
            Tok::PipeExact | Tok::Neq | Tok::PipeMatch | Tok::Nre => {
                p.next();
                let s = p.next();
                let Tok::Str(text) = s.0 else {
                    return Err(p.err(&s, ""));
                };
                let is_re = matches!(t.0, Tok::PipeMatch | Tok::Nre);
                let re = if is_re {
                    Some(line_regex(&text, s.1)?)
                } else {
                    None
                };
                stages.push(Stage::Line {
                    negate: matches!(t.0, Tok::Neq | Tok::Nre),
                    text,
                    re,
                });
            }
            Tok::Pipe => {
                p.next();
                let mut filters = Vec::new();
                loop {
                    let n = p.next();
                    let name = match n.0 {
                        Tok::Ident(name) => name,
                        _ => return Err(p.err(&n, "")),
                    };
                    if !matches!(p.peek().0, Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre) {
                        return Err(match p.peek().0 {
                            Tok::Other(_) => p.unsupported(p.peek().1, "a numeric label filter"),
                            _ if filters.is_empty() => {
                                p.unsupported(n.1, &format!("the `{name}` stage"))
                            }
                            _ => p.err(&p.peek().clone(), ""),
                        });
                    }
                    filters.push(matcher(p, name, n.1)?);
                    match &p.peek().0 {
                        Tok::Comma => {
                            p.next();
                        }
                        Tok::Ident(w) if w == "and" => {
                            p.next();
                        }
                        Tok::Ident(w) if w == "or" => {
                            return Err(p.unsupported(p.peek().1, "`or` in label filters"));
                        }
                        _ => break,
                    }
                }
                stages.push(Stage::Labels(filters));
            }
            _ => break,
        }
    }
    Ok(LogQuery { selector, stages })
}

/// Parses a LogQL expression.
pub fn parse(q: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(lex(q)?);
    let expr = match p.peek().0.clone() {
        Tok::LBrace => Expr::Log(log_query(&mut p)?),
        Tok::Ident(f) if f == "count_over_time" || AggOp::from_name(&f).is_some() => {
            let mut m = metric(&mut p)?;
            m.comparison = comparison(&mut p)?;
            Expr::Metric(m)
        }
        Tok::Ident(f) => {
            let col = p.peek().1;
            return Err(p.unsupported(col, &format!("`{f}`")));
        }
        _ => {
            let t = p.next();
            return Err(p.err(&t, ""));
        }
    };
    let t = p.next();
    if t.0 != Tok::Eof {
        return Err(p.err(&t, ""));
    }
    Ok(expr)
}

fn expect(p: &mut Parser, want: Tok) -> Result<(), ParseError> {
    let t = p.next();
    if t.0 == want {
        Ok(())
    } else {
        Err(p.err(&t, ""))
    }
}

/// `count_over_time(…[range])`, or one aggregation around it.
fn metric(p: &mut Parser) -> Result<MetricQuery, ParseError> {
    let t = p.next();
    let Tok::Ident(name) = t.0.clone() else {
        return Err(p.err(&t, ""));
    };
    if let Some(op) = AggOp::from_name(&name) {
        let before = grouping(p)?;
        expect(p, Tok::LParen)?;
        let mut inner = metric(p)?;
        if inner.aggregation.is_some() {
            return Err(p.unsupported(t.1, "nested aggregations"));
        }
        expect(p, Tok::RParen)?;
        let after = grouping(p)?;
        inner.aggregation = Some(Aggregation {
            op,
            by: before.or(after),
        });
        return Ok(inner);
    }
    if name != "count_over_time" {
        return Err(p.unsupported(t.1, &format!("`{name}`")));
    }
    expect(p, Tok::LParen)?;
    let query = log_query(p)?;
    expect(p, Tok::LBracket)?;
    let t = p.next();
    let range_ms = match &t.0 {
        Tok::Duration(d) => parse_prom_duration(d).map_err(|_| p.err(&t, ""))?,
        _ => return Err(p.err(&t, "")),
    };
    expect(p, Tok::RBracket)?;
    expect(p, Tok::RParen)?;
    Ok(MetricQuery {
        query,
        range_ms,
        aggregation: None,
        comparison: None,
    })
}

/// `by (a, b)`, if next.
fn grouping(p: &mut Parser) -> Result<Option<Vec<String>>, ParseError> {
    match &p.peek().0 {
        Tok::Ident(w) if w == "by" => {}
        Tok::Ident(w) if w == "without" => {
            let col = p.peek().1;
            return Err(p.unsupported(col, "`without`"));
        }
        _ => return Ok(None),
    }
    p.next();
    expect(p, Tok::LParen)?;
    let mut names = Vec::new();
    loop {
        let t = p.next();
        match t.0 {
            Tok::RParen if names.is_empty() => break,
            Tok::Ident(n) => names.push(n),
            _ => return Err(p.err(&t, "")),
        }
        let t = p.next();
        match t.0 {
            Tok::Comma => continue,
            Tok::RParen => break,
            _ => return Err(p.err(&t, "")),
        }
    }
    Ok(Some(names))
}

/// An optional `<op> [bool] <number>` after a metric query.
fn comparison(p: &mut Parser) -> Result<Option<Comparison>, ParseError> {
    let op = match &p.peek().0 {
        Tok::Neq => CmpOp::Ne,
        Tok::Other(o) if o == "==" => CmpOp::Eq,
        Tok::Other(o) if o == ">" || o == "<" => {
            let (plain, or_equal) = if o == ">" {
                (CmpOp::Gt, CmpOp::Ge)
            } else {
                (CmpOp::Lt, CmpOp::Le)
            };
            p.next();
            if p.peek().0 == Tok::Eq {
                p.next();
                return comparison_rhs(p, or_equal).map(Some);
            }
            return comparison_rhs(p, plain).map(Some);
        }
        _ => return Ok(None),
    };
    p.next();
    comparison_rhs(p, op).map(Some)
}

/// `[bool] [-]digits[.digits]` (the lexer splits numbers into single characters).
fn comparison_rhs(p: &mut Parser, op: CmpOp) -> Result<Comparison, ParseError> {
    let bool_mode = matches!(&p.peek().0, Tok::Ident(w) if w == "bool");
    if bool_mode {
        p.next();
    }
    let col = p.peek().1;
    let mut text = String::new();
    while let Tok::Other(c) = &p.peek().0 {
        let numeric =
            c.chars().all(|c| c.is_ascii_digit() || c == '.') || (c == "-" && text.is_empty());
        if !numeric {
            break;
        }
        text.push_str(c);
        p.next();
    }
    match text.parse::<f64>() {
        Ok(rhs) => Ok(Comparison { op, bool_mode, rhs }),
        Err(_) => {
            let t = p.next();
            Err(ParseError {
                col: if text.is_empty() { t.1 } else { col },
                message: format!("syntax error: unexpected {}", t.0.describe()),
            })
        }
    }
}

impl MetricQuery {
    /// Applies the aggregation and comparison to per-stream counts.
    pub fn finish(
        &self,
        counts: Vec<(BTreeMap<String, String>, f64)>,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let counts = match &self.aggregation {
            Some(a) => a.apply(counts),
            None => counts,
        };
        match &self.comparison {
            Some(c) => c.apply(counts),
            None => counts,
        }
    }
}

impl LogQuery {
    /// Whether the stream selector selects an entry's stream.
    pub fn selects(&self, e: &LokiEntry) -> bool {
        self.selector.iter().all(|m| m.matches_labels(&e.labels))
    }

    /// Whether the pipeline keeps an entry of a selected stream.
    pub fn keeps(&self, e: &LokiEntry) -> bool {
        let mut merged: Option<BTreeMap<String, String>> = None;
        self.stages.iter().all(|s| match s {
            Stage::Line { negate, text, re } => {
                let hit = match re {
                    Some(re) => re.is_match(&e.line),
                    None => e.line.contains(text.as_str()),
                };
                hit != *negate
            }
            Stage::Labels(ms) => {
                let m = merged.get_or_insert_with(|| e.merged());
                ms.iter().all(|x| x.matches_labels(m))
            }
        })
    }

    /// Whether any stage reads structured metadata (for the stats flag).
    pub fn uses_labels_stage(&self) -> bool {
        self.stages.iter().any(|s| matches!(s, Stage::Labels(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_canary_queries() {
        let Expr::Log(q) = parse(r#"{service_name="otel-canary"} | canary_probe_id="x""#).unwrap()
        else {
            panic!()
        };
        assert_eq!(q.selector.len(), 1);
        assert_eq!(q.stages.len(), 1);
        assert!(parse(r#"{a="x", b=~"y.*", c!="z", d!~"w"} |= "s" != "t" |~ "u" !~ "v" | k="1", j!="2" and i=~"3""#).is_ok());
        assert!(matches!(
            parse(r#"count_over_time({a="x"} | k="v" [5m])"#).unwrap(),
            Expr::Metric(MetricQuery {
                range_ms: 300_000,
                aggregation: None,
                comparison: None,
                ..
            })
        ));
        let Expr::Metric(m) = parse(r#"sum(count_over_time({a="x"}[5m])) > 0"#).unwrap() else {
            panic!()
        };
        assert_eq!(m.aggregation.as_ref().map(|a| a.op), Some(AggOp::Sum));
        assert_eq!(m.comparison.map(|c| (c.op, c.rhs)), Some((CmpOp::Gt, 0.0)));
        let Expr::Metric(m) =
            parse(r#"sum by (job) (count_over_time({a="x"}[1h])) >= 10.5"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.aggregation.unwrap().by, Some(vec!["job".to_string()]));
        assert_eq!(m.comparison.map(|c| (c.op, c.rhs)), Some((CmpOp::Ge, 10.5)));
        assert!(parse(r#"sum(count_over_time({a="x"}[5m])) >"#).is_err());
        assert!(parse(r#"sum(sum(count_over_time({a="x"}[5m])))"#).is_err());
        assert!(parse(r#"rate({a="x"}[5m])"#).is_err());
    }

    #[test]
    fn chained_line_filters_must_all_hold() {
        let Expr::Log(q) =
            parse(r#"{job="otel-canary"} |= "otel-canary probe X" |= "canary_path""#).unwrap()
        else {
            panic!()
        };
        assert_eq!(q.stages.len(), 2);
        let entry = |line: &str| LokiEntry {
            ts_ns: 1,
            line: line.to_string(),
            labels: BTreeMap::from([("job".to_string(), "otel-canary".to_string())]),
            metadata: BTreeMap::new(),
        };
        let both = entry(r#"{"msg":"otel-canary probe X","canary_path":"stdout"}"#);
        assert!(q.selects(&both) && q.keeps(&both));
        assert!(!q.keeps(&entry(
            r#"{"msg":"otel-canary probe Y","canary_path":"stdout"}"#
        )));
        assert!(!q.keeps(&entry("otel-canary probe X")));
        assert!(!q.keeps(&entry(r#"{"canary_path":"stdout"}"#)));
    }

    #[test]
    fn errors_look_like_lokis() {
        assert_eq!(
            parse(r#"{service_name="otel-canary" | canary_probe_id="#)
                .unwrap_err()
                .to_string(),
            "parse error at line 1, col 29: syntax error: unexpected |, expecting } or ,"
        );
        assert_eq!(
            parse(r#"{service_name=""}"#).unwrap_err().to_string(),
            format!("parse error : {EMPTY_MATCHER_ERROR}")
        );
        assert!(parse(r#"{a=~".*"}"#).is_err());
        assert!(parse(r#"{a=~".+"}"#).is_ok());
        assert!(parse(r#"{a="x"} | json"#).is_err());
        assert!(parse("").is_err());
        assert!(parse(r#"{a="x"} |= "#).is_err());
    }
}
