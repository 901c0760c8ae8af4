//! The PromQL subset the lab's Prometheus/Mimir understands: a vector selector
//! (`name{l="v", m=~"re", …}` or `{__name__="…", …}` with `=`, `!=`, `=~`, `!~`; regexes fully
//! anchored), `last_over_time(<selector>[<range>])`, the aggregations `sum`, `count`, `min`,
//! `max`, `avg` (optionally `by (labels)`, before or after the argument) of those, and any of
//! them compared with a number (`up == 0`, `count(x) > 0`, `up != bool 1`: the filter and `bool`
//! forms of a vector/scalar comparison), evaluated with Prometheus' lookback (the newest sample
//! in `(t − 5m, t]`) and its staleness markers. Errors carry Prometheus' `line:col: parse error:`.

use super::lexing::{Tokens, read_string, word_end};
use super::logql::{MatchOp, Matcher};
use super::params::parse_prom_duration;
use super::prom_mapping::{Labels, PromSample};
use std::collections::BTreeMap;

pub use super::aggregate::{AggOp, Aggregation, CmpOp, Comparison};

/// A parsed expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Selector(Vec<Matcher>),
    /// `last_over_time(selector[range ms])`.
    LastOverTime(Vec<Matcher>, i64),
    /// `<op> [by (…)] (<expr>)`.
    Aggregate(Aggregation, Box<Expr>),
    /// `<expr> <op> [bool] <number>`.
    Compare(Box<Expr>, Comparison),
}

impl Expr {
    /// The selectors the expression reads, so a caller can tell which series it may need.
    pub fn selectors(&self) -> Vec<&[Matcher]> {
        match self {
            Expr::Selector(m) | Expr::LastOverTime(m, _) => vec![m.as_slice()],
            Expr::Aggregate(_, inner) | Expr::Compare(inner, _) => inner.selectors(),
        }
    }
}

/// Prometheus' staleness marker (`value.StaleNaN`): a NaN with this exact bit pattern,
/// written when a scraped series disappears or its target fails, which hides the series from
/// instant lookups at once instead of after the 5-minute lookback.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker sample value.
pub fn stale_marker() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether a sample is a staleness marker (not any NaN: a page may expose a real NaN).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A parse failure: `Display` is what follows `invalid parameter "query": `.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1:{}: parse error: {}", self.col, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(MatchOp),
    Ident(String),
    Str(String),
    Other(String),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LBrace => "\"{\"".into(),
            Tok::RBrace => "\"}\"".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Op(MatchOp::Eq) => "\"=\"".into(),
            Tok::Op(MatchOp::Ne) => "\"!=\"".into(),
            Tok::Op(MatchOp::Re) => "\"=~\"".into(),
            Tok::Op(MatchOp::NotRe) => "\"!~\"".into(),
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Other(s) => format!("character: {s:?}"),
            Tok::Eof => "end of input".into(),
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
            ('[', _) => (Tok::LBracket, 1),
            (']', _) => (Tok::RBracket, 1),
            (',', _) => (Tok::Comma, 1),
            ('=', Some('~')) => (Tok::Op(MatchOp::Re), 2),
            ('!', Some('=')) => (Tok::Op(MatchOp::Ne), 2),
            ('!', Some('~')) => (Tok::Op(MatchOp::NotRe), 2),
            ('=', Some('=')) => (Tok::Other("==".into()), 2),
            ('>', Some('=')) => (Tok::Other(">=".into()), 2),
            ('<', Some('=')) => (Tok::Other("<=".into()), 2),
            ('=', _) => (Tok::Op(MatchOp::Eq), 1),
            ('"' | '\'' | '`', _) => {
                let (s, end) = read_string(&chars, i).map_err(|_| ParseError {
                    col,
                    message: "unterminated quoted string".into(),
                })?;
                toks.push((Tok::Str(s), col));
                i = end;
                continue;
            }
            _ if c.is_ascii_alphanumeric() || c == '_' || c == ':' => {
                let mut j = word_end(&chars, i, |c| {
                    c.is_ascii_alphanumeric() || c == '_' || c == ':'
                });
                // A word starting with a digit may be a number: `1.5`, `1e-3`.
                while c.is_ascii_digit() && j + 1 < chars.len() {
                    let signed_exponent =
                        matches!(chars[j - 1], 'e' | 'E') && matches!(chars[j], '+' | '-');
                    if !(chars[j] == '.' || signed_exponent) || !chars[j + 1].is_ascii_digit() {
                        break;
                    }
                    j = word_end(&chars, j + 1, |c| c.is_ascii_alphanumeric());
                }
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

struct Parser {
    tokens: Tokens<Tok>,
    /// Errors inside `{…}` read differently in Prometheus.
    in_braces: bool,
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        self.tokens.peek()
    }

    fn next(&mut self) -> (Tok, usize) {
        self.tokens.next()
    }

    fn err(&self, (tok, col): &(Tok, usize), context: &str) -> ParseError {
        let message = match tok {
            Tok::Eof if self.in_braces => "unexpected end of input inside braces".to_string(),
            Tok::Other(c) if self.in_braces => format!("unexpected character inside braces: {c:?}"),
            _ => format!("unexpected {}{context}", tok.describe()),
        };
        ParseError { col: *col, message }
    }
}

fn selector(p: &mut Parser, name: Option<(String, usize)>) -> Result<Vec<Matcher>, ParseError> {
    let mut matchers = Vec::new();
    let start_col = name.as_ref().map(|(_, c)| *c).unwrap_or(p.peek().1);
    if let Some((n, _)) = &name {
        matchers.push(Matcher::new("__name__", MatchOp::Eq, n).expect("no regex"));
    }
    if p.peek().0 == Tok::LBrace {
        p.next();
        p.in_braces = true;
        loop {
            let t = p.next();
            let label = match t.0 {
                Tok::RBrace => break,
                Tok::Ident(l) => l,
                Tok::Str(l) => l,
                _ => return Err(p.err(&t, " in label matching, expected label key")),
            };
            let t = p.next();
            let Tok::Op(op) = t.0 else {
                return Err(p.err(&t, " in label matching, expected label matching operator"));
            };
            let t = p.next();
            let Tok::Str(value) = t.0 else {
                return Err(p.err(&t, " in label matching, expected string"));
            };
            let m = Matcher::new(&label, op, &value).map_err(|e| ParseError {
                col: t.1,
                message: super::logql::regex_error(&value, &e),
            })?;
            matchers.push(m);
            let t = p.next();
            match t.0 {
                Tok::Comma => continue,
                Tok::RBrace => break,
                _ => return Err(p.err(&t, " in label matching, expected \",\" or \"}\"")),
            }
        }
        p.in_braces = false;
    }
    if matchers.iter().filter(|m| m.name == "__name__").count() > 1 && name.is_some() {
        return Err(ParseError {
            col: start_col,
            message: "metric name must not be set twice".into(),
        });
    }
    if matchers.iter().all(|m| m.matches("")) {
        return Err(ParseError {
            col: start_col,
            message: "vector selector must contain at least one non-empty matcher".into(),
        });
    }
    Ok(matchers)
}

fn unsupported(col: usize, what: &str) -> ParseError {
    ParseError {
        col,
        message: format!("otel-canary lab: {what} is not supported by the lab's PromQL"),
    }
}

/// Parses a PromQL expression of the supported subset.
pub fn parse(q: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        tokens: Tokens::new(lex(q)?),
        in_braces: false,
    };
    if p.peek().0 == Tok::Eof {
        return Err(ParseError {
            col: 1,
            message: "no expression found in input".into(),
        });
    }
    let expr = expression(&mut p)?;
    let t = p.next();
    if t.0 != Tok::Eof {
        return Err(match t.0 {
            Tok::LBracket => unsupported(t.1, "a range vector outside last_over_time"),
            _ => p.err(&t, ""),
        });
    }
    Ok(expr)
}

/// A primary expression with an optional comparison.
fn expression(p: &mut Parser) -> Result<Expr, ParseError> {
    let expr = primary(p)?;
    Ok(match comparison(p)? {
        Some(c) => Expr::Compare(Box::new(expr), c),
        None => expr,
    })
}

fn primary(p: &mut Parser) -> Result<Expr, ParseError> {
    let first = p.next();
    Ok(match first.0.clone() {
        Tok::LBrace => {
            p.tokens.back();
            Expr::Selector(selector(p, None)?)
        }
        Tok::Ident(f) if f == "last_over_time" && p.peek().0 == Tok::LParen => {
            p.next();
            let t = p.next();
            let inner = match t.0 {
                Tok::Ident(n) => selector(p, Some((n, t.1)))?,
                Tok::LBrace => {
                    p.tokens.back();
                    selector(p, None)?
                }
                _ => return Err(p.err(&t, "")),
            };
            let t = p.next();
            if t.0 != Tok::LBracket {
                return Err(ParseError {
                    col: t.1,
                    message: "expected type range vector in call to function \"last_over_time\", got instant vector".into(),
                });
            }
            let mut text = String::new();
            let close_col = loop {
                let t = p.next();
                match t.0 {
                    Tok::RBracket => break t.1,
                    Tok::Ident(s) => text.push_str(&s),
                    _ => return Err(p.err(&t, "")),
                }
            };
            let range = parse_prom_duration(&text).map_err(|_| ParseError {
                col: close_col,
                message: format!("bad number or duration syntax: {text:?}"),
            })?;
            let t = p.next();
            if t.0 != Tok::RParen {
                return Err(p.err(&t, ""));
            }
            Expr::LastOverTime(inner, range)
        }
        Tok::Ident(f)
            if AggOp::from_name(&f).is_some()
                && matches!(&p.peek().0, Tok::LParen | Tok::Ident(_)) =>
        {
            aggregation(p, AggOp::from_name(&f).expect("checked"))?
        }
        Tok::Ident(f) if p.peek().0 == Tok::LParen => {
            return Err(if is_known_function(&f) {
                unsupported(first.1, &format!("function {f:?}"))
            } else {
                ParseError {
                    col: first.1,
                    message: format!("unknown function with name {f:?}"),
                }
            });
        }
        Tok::Ident(n) if n.starts_with(|c: char| c.is_ascii_digit()) => {
            return Err(unsupported(first.1, "a number literal"));
        }
        Tok::Ident(n) => Expr::Selector(selector(p, Some((n, first.1)))?),
        _ => return Err(p.err(&first, "")),
    })
}

/// `by (a, b)` after an aggregation's name or argument, if there.
fn grouping(p: &mut Parser) -> Result<Option<Vec<String>>, ParseError> {
    let Tok::Ident(w) = &p.peek().0 else {
        return Ok(None);
    };
    match w.as_str() {
        "by" => {}
        "without" => return Err(unsupported(p.peek().1, "`without`")),
        _ => return Ok(None),
    }
    p.next();
    let t = p.next();
    if t.0 != Tok::LParen {
        return Err(p.err(&t, " in grouping opts, expected \"(\""));
    }
    let mut names = Vec::new();
    loop {
        let t = p.next();
        match t.0 {
            Tok::RParen if names.is_empty() => break,
            Tok::Ident(n) => names.push(n),
            _ => return Err(p.err(&t, " in grouping opts, expected label")),
        }
        let t = p.next();
        match t.0 {
            Tok::Comma => continue,
            Tok::RParen => break,
            _ => return Err(p.err(&t, " in grouping opts, expected \")\" or \",\"")),
        }
    }
    Ok(Some(names))
}

/// `op [by (…)] (<expr>) [by (…)]`, the name already read.
fn aggregation(p: &mut Parser, op: AggOp) -> Result<Expr, ParseError> {
    let before = grouping(p)?;
    let t = p.next();
    if t.0 != Tok::LParen {
        return Err(p.err(&t, " in aggregation, expected \"(\""));
    }
    let inner = expression(p)?;
    let t = p.next();
    if t.0 != Tok::RParen {
        return Err(p.err(&t, " in aggregation, expected \")\""));
    }
    let after = grouping(p)?;
    if before.is_some() && after.is_some() {
        return Err(ParseError {
            col: t.1,
            message: "aggregation must only contain one grouping clause".into(),
        });
    }
    Ok(Expr::Aggregate(
        Aggregation {
            op,
            by: before.or(after),
        },
        Box::new(inner),
    ))
}

/// A PromQL number literal: decimal (with exponent), `Inf` or `NaN` in any case.
fn number(word: &str) -> Option<f64> {
    let literal = word.starts_with(|c: char| c.is_ascii_digit())
        || word.eq_ignore_ascii_case("inf")
        || word.eq_ignore_ascii_case("nan");
    if literal { word.parse().ok() } else { None }
}

/// An optional `<op> [bool] <number>` after the expression.
fn comparison(p: &mut Parser) -> Result<Option<Comparison>, ParseError> {
    let op = match &p.peek().0 {
        Tok::Op(MatchOp::Ne) => CmpOp::Ne,
        Tok::Other(o) => match CmpOp::from_token(o) {
            Some(op) => op,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    p.next();
    let bool_mode = matches!(&p.peek().0, Tok::Ident(w) if w == "bool");
    if bool_mode {
        p.next();
    }
    let mut sign = 1.0;
    if let Tok::Other(s) = &p.peek().0
        && (s == "-" || s == "+")
    {
        if s == "-" {
            sign = -1.0;
        }
        p.next();
    }
    let t = p.next();
    match &t.0 {
        Tok::Ident(w) => match number(w) {
            Some(v) => Ok(Some(Comparison {
                op,
                bool_mode,
                rhs: sign * v,
            })),
            None => Err(unsupported(t.1, "a comparison between two vectors")),
        },
        Tok::LBrace => Err(unsupported(t.1, "a comparison between two vectors")),
        _ => Err(p.err(&t, "")),
    }
}

fn is_known_function(f: &str) -> bool {
    const KNOWN: &[&str] = &[
        "sum",
        "count",
        "avg",
        "min",
        "max",
        "rate",
        "irate",
        "increase",
        "delta",
        "abs",
        "absent",
        "count_over_time",
        "sum_over_time",
        "avg_over_time",
        "max_over_time",
        "min_over_time",
        "topk",
        "bottomk",
        "histogram_quantile",
        "label_replace",
        "time",
        "timestamp",
        "vector",
        "scalar",
        "sort",
        "sort_desc",
        "quantile_over_time",
    ];
    KNOWN.contains(&f)
}

/// Stored samples grouped into series, each sorted by time (equal timestamps: the last
/// written wins, as a duplicate overwrite would).
pub fn series(samples: Vec<PromSample>) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in samples {
        out.entry(s.labels).or_default().push((s.ts_ms, s.value));
    }
    for points in out.values_mut() {
        points.sort_by_key(|(t, _)| *t);
        let mut dedup: Vec<(i64, f64)> = Vec::with_capacity(points.len());
        for p in points.drain(..) {
            match dedup.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => dedup.push(p),
            }
        }
        *points = dedup;
    }
    out
}

/// Whether a series' labels satisfy a selector.
pub fn selects(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

/// Evaluates at `t_ms`: each matching series' newest sample in `(t − window, t]`, unless that
/// sample is a staleness marker; `last_over_time` skips markers, as range selections do.
pub fn eval_instant(
    expr: &Expr,
    all: &BTreeMap<Labels, Vec<(i64, f64)>>,
    t_ms: i64,
    lookback_ms: i64,
) -> Vec<(Labels, f64)> {
    let (matchers, window, skip_stale) = match expr {
        Expr::Selector(m) => (m, lookback_ms, false),
        Expr::LastOverTime(m, r) => (m, *r, true),
        Expr::Compare(inner, c) => return c.apply(eval_instant(inner, all, t_ms, lookback_ms)),
        Expr::Aggregate(agg, inner) => {
            return agg.apply(eval_instant(inner, all, t_ms, lookback_ms));
        }
    };
    all.iter()
        .filter(|(labels, _)| selects(matchers, labels))
        .filter_map(|(labels, points)| {
            points
                .iter()
                .rev()
                .filter(|(_, v)| !(skip_stale && is_stale(*v)))
                .find(|(t, _)| *t <= t_ms && *t > t_ms.saturating_sub(window))
                .filter(|(_, v)| !is_stale(*v))
                .map(|(_, v)| (labels.clone(), *v))
        })
        .collect()
}

/// Adds `more` series to `into`, keeping each series sorted by time with one sample per
/// timestamp (the lab's OTLP-written and scraped series share one query view).
pub fn merge_series(
    into: &mut BTreeMap<Labels, Vec<(i64, f64)>>,
    more: BTreeMap<Labels, Vec<(i64, f64)>>,
) {
    for (labels, points) in more {
        match into.get_mut(&labels) {
            None => {
                into.insert(labels, points);
            }
            Some(existing) => {
                existing.extend(points);
                existing.sort_by_key(|(t, _)| *t);
                existing.dedup_by_key(|(t, _)| *t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_subset() {
        assert!(matches!(
            parse(r#"otel_canary_probe_marker{job="otel-canary",instance="h"}"#).unwrap(),
            Expr::Selector(m) if m.len() == 3
        ));
        assert!(matches!(
            parse(r#"{__name__=~"otel_.*"}"#).unwrap(),
            Expr::Selector(_)
        ));
        assert!(matches!(
            parse(r#"last_over_time(otel_canary_probe_marker{job="x"}[10m])"#).unwrap(),
            Expr::LastOverTime(_, 600_000)
        ));
        assert!(parse("up{}").is_ok());
        for (q, op, bool_mode, rhs) in [
            ("up == 0", CmpOp::Eq, false, 0.0),
            (r#"up{job="x"} != bool 1"#, CmpOp::Ne, true, 1.0),
            ("up>=1.5", CmpOp::Ge, false, 1.5),
            ("up < -2", CmpOp::Lt, false, -2.0),
            ("up <= 1e-3", CmpOp::Le, false, 0.001),
            ("up > Inf", CmpOp::Gt, false, f64::INFINITY),
        ] {
            let Expr::Compare(inner, c) = parse(q).unwrap() else {
                panic!("{q}")
            };
            assert!(matches!(*inner, Expr::Selector(_)), "{q}");
            assert_eq!(c, Comparison { op, bool_mode, rhs }, "{q}");
        }
        assert!(matches!(
            parse("last_over_time(up[5m]) == 0").unwrap(),
            Expr::Compare(inner, _) if matches!(*inner, Expr::LastOverTime(_, 300_000))
        ));
        assert!(parse(r#"up{a="b",}"#).is_ok());
    }

    #[test]
    fn errors_look_like_prometheus() {
        assert_eq!(
            parse("otel_canary_probe_marker{job=")
                .unwrap_err()
                .to_string(),
            "1:30: parse error: unexpected end of input inside braces"
        );
        assert!(parse(r#"{job=~".*"}"#).is_err());
        assert!(parse("").is_err());
        assert!(
            parse("nosuchfn(up)")
                .unwrap_err()
                .message
                .contains("unknown function")
        );
        assert!(parse("rate(up[5m])").is_err());
        assert!(parse("sum without (a) (up)").is_err());
        assert!(parse("sum by (a) (up) by (b)").is_err());
        assert!(parse("up[5m]").is_err());
        assert!(parse("up == ").is_err());
        assert!(
            parse("up == up")
                .unwrap_err()
                .message
                .contains("two vectors")
        );
        assert!(parse("up == 0 == 1").is_err());
        assert!(parse("up == infinity").is_err());
    }

    fn all(points: &[(&str, Vec<(i64, f64)>)]) -> BTreeMap<Labels, Vec<(i64, f64)>> {
        points
            .iter()
            .map(|(name, p)| {
                let labels = Labels::from([
                    ("__name__".to_string(), name.to_string()),
                    ("job".to_string(), "j".to_string()),
                ]);
                (labels, p.clone())
            })
            .collect()
    }

    fn eval(q: &str, all: &BTreeMap<Labels, Vec<(i64, f64)>>, t: i64) -> Vec<(Labels, f64)> {
        eval_instant(&parse(q).unwrap(), all, t, 300_000)
    }

    #[test]
    fn comparisons_filter_or_answer_bool() {
        let data = all(&[("up", vec![(1_000, 0.0)]), ("other", vec![(1_000, 1.0)])]);
        let down = eval(r#"{job="j"} == 0"#, &data, 2_000);
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].0["__name__"], "up", "a filter keeps the name");
        assert_eq!(down[0].1, 0.0);
        assert!(eval("up == 1", &data, 2_000).is_empty());
        let b = eval("up == bool 1", &data, 2_000);
        assert_eq!(b.len(), 1);
        assert!(!b[0].0.contains_key("__name__"), "bool drops the name");
        assert_eq!(b[0].1, 0.0);
        assert_eq!(eval("other > 0.5", &data, 2_000).len(), 1);
    }

    #[test]
    fn aggregations_then_comparisons() {
        let mut data = all(&[("c", vec![(1_000, 2.0)]), ("d", vec![(1_000, 1.0)])]);
        data.insert(
            Labels::from([
                ("__name__".to_string(), "c".to_string()),
                ("job".to_string(), "k".to_string()),
            ]),
            vec![(1_000, 3.0)],
        );
        let sum = eval("sum(c)", &data, 2_000);
        assert_eq!(sum, vec![(Labels::new(), 5.0)]);
        assert_eq!(eval("count(c) > 1", &data, 2_000)[0].1, 2.0);
        assert!(eval("count(c) > 2", &data, 2_000).is_empty());
        assert!(eval("count(nothing) > 0", &data, 2_000).is_empty());
        let by = eval("sum by (job) (c)", &data, 2_000);
        assert_eq!(by.len(), 2);
        assert_eq!(by, eval("sum(c) by (job)", &data, 2_000));
        assert_eq!(
            eval(r#"max(sum by (job) ({__name__=~"c|d"}))"#, &data, 2_000)[0].1,
            3.0
        );
        assert_eq!(eval("sum(c > 2)", &data, 2_000)[0].1, 3.0);
        let Expr::Aggregate(a, _) = parse("count(up)").unwrap() else {
            panic!("aggregate")
        };
        assert_eq!(a.op, AggOp::Count);
        assert!(parse("sum(up").is_err());
        assert!(parse("sum by (up)").is_err());
    }

    #[test]
    fn staleness_markers_hide_a_series_at_once() {
        let data = all(&[("m", vec![(1_000, 7.0), (2_000, stale_marker())])]);
        assert_eq!(eval("m", &data, 1_500)[0].1, 7.0, "before the marker");
        assert!(eval("m", &data, 2_500).is_empty(), "after it, gone");
        assert_eq!(
            eval("last_over_time(m[10m])", &data, 2_500)[0].1,
            7.0,
            "range selections skip markers"
        );
        let nan = all(&[("m", vec![(1_000, f64::NAN)])]);
        assert!(
            eval("m", &nan, 1_500)[0].1.is_nan(),
            "a real NaN is a value"
        );
        assert!(!is_stale(f64::NAN));
        assert!(is_stale(stale_marker()));
    }
}
