//! The TraceQL subset the lab's Tempo search understands: one spanset filter `{ … }` whose
//! conditions are joined with `&&`, each `span.<attr>`, `resource.<attr>` or `.<attr>`
//! (attribute names may contain dots) or the intrinsics `name`, `status`, `kind`, compared
//! with `=`, `!=`, `=~`, `!~`, `>`, `>=`, `<`, `<=` to a string, integer, float or boolean.
//! Errors carry Tempo's prefix and 1-based column so readers classify them as Tempo would.

use super::lexing::{Tokens, read_string, word_end};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use regex::Regex;

/// Where an attribute is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrScope {
    Span,
    Resource,
    /// `.attr`: the span's, else the resource's.
    Any,
}

/// What a condition compares.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Attr { scope: AttrScope, name: String },
    Name,
    Status,
    Kind,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The right-hand side of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `ok`, `error`, `unset` (status code numbers).
    Status(i32),
    /// `client`, `server`, … (span kind numbers).
    Kind(i32),
}

/// One `target op literal`.
#[derive(Clone, Debug)]
pub struct Condition {
    pub target: Target,
    pub op: Op,
    pub value: Literal,
    regex: Option<Regex>,
}

/// A parsed query: every condition must hold for one span (an empty list matches all).
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub conditions: Vec<Condition>,
}

/// A parse failure, displayed as Tempo's 400 body.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid TraceQL query: parse error at line 1, col {}: {}",
            self.col, self.message
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrace,
    RBrace,
    And,
    Op(Op),
    Attr(AttrScope, String),
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Other(String),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::And => "&&".into(),
            Tok::Op(op) => op_text(*op).into(),
            Tok::Attr(..) | Tok::Ident(_) => "IDENTIFIER".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Int(_) => "INTEGER".into(),
            Tok::Float(_) => "FLOAT".into(),
            Tok::Other(s) => s.clone(),
            Tok::Eof => "$end".into(),
        }
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Re => "=~",
        Op::NotRe => "!~",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
    }
}

fn is_delim(c: char) -> bool {
    c.is_whitespace() || "{}()=!<>~&|\",`".contains(c)
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
            ('&', Some('&')) => (Tok::And, 2),
            ('|', Some('|')) => (Tok::Other("||".into()), 2),
            ('=', Some('~')) => (Tok::Op(Op::Re), 2),
            ('!', Some('=')) => (Tok::Op(Op::Ne), 2),
            ('!', Some('~')) => (Tok::Op(Op::NotRe), 2),
            ('>', Some('=')) => (Tok::Op(Op::Ge), 2),
            ('<', Some('=')) => (Tok::Op(Op::Le), 2),
            ('=', _) => (Tok::Op(Op::Eq), 1),
            ('>', _) => (Tok::Op(Op::Gt), 1),
            ('<', _) => (Tok::Op(Op::Lt), 1),
            ('"' | '`', _) => {
                let (s, end) = read_string(&chars, i).map_err(|_| ParseError {
                    col,
                    message: "syntax error: unexpected $end".into(),
                })?;
                toks.push((Tok::Str(s), col));
                i = end;
                continue;
            }
            _ if is_delim(c) => (Tok::Other(c.to_string()), 1),
            _ => {
                let j = word_end(&chars, i, |c| !is_delim(c));
                let word: String = chars[i..j].iter().collect();
                // A quoted attribute name: span."a b", resource."x", ."y".
                let scope = match word.as_str() {
                    "span." => Some(AttrScope::Span),
                    "resource." => Some(AttrScope::Resource),
                    "." => Some(AttrScope::Any),
                    _ => None,
                };
                if let (Some(scope), Some('"')) = (scope, chars.get(j)) {
                    let (name, end) = read_string(&chars, j).map_err(|_| ParseError {
                        col,
                        message: "syntax error: unexpected $end".into(),
                    })?;
                    toks.push((Tok::Attr(scope, name), col));
                    i = end;
                    continue;
                }
                (word_token(&word), j - i)
            }
        };
        toks.push((tok, col));
        i += len;
    }
    toks.push((Tok::Eof, chars.len() + 1));
    Ok(toks)
}

fn word_token(word: &str) -> Tok {
    if let Some(name) = word.strip_prefix("span.").filter(|n| !n.is_empty()) {
        return Tok::Attr(AttrScope::Span, name.to_string());
    }
    if let Some(name) = word.strip_prefix("resource.").filter(|n| !n.is_empty()) {
        return Tok::Attr(AttrScope::Resource, name.to_string());
    }
    if let Some(name) = word.strip_prefix('.').filter(|n| !n.is_empty()) {
        return Tok::Attr(AttrScope::Any, name.to_string());
    }
    if let Ok(i) = word.parse::<i64>() {
        return Tok::Int(i);
    }
    if word.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && let Ok(f) = word.parse::<f64>()
    {
        return Tok::Float(f);
    }
    Tok::Ident(word.to_string())
}

type Parser = Tokens<Tok>;

impl Tokens<Tok> {
    fn unexpected(&self, (tok, col): &(Tok, usize)) -> ParseError {
        let message = match tok {
            Tok::Other(s) if s == "||" || s == "(" || s == ")" => {
                format!("otel-canary lab: {s} is not supported (only && of attribute comparisons)")
            }
            _ => format!("syntax error: unexpected {}", tok.describe()),
        };
        ParseError { col: *col, message }
    }
}

/// Parses a TraceQL query (an empty query matches everything).
pub fn parse(q: &str) -> Result<Query, ParseError> {
    if q.trim().is_empty() {
        return Ok(Query::default());
    }
    let mut p = Parser::new(lex(q)?);
    let first = p.next();
    if first.0 != Tok::LBrace {
        return Err(p.unexpected(&first));
    }
    let mut conditions = Vec::new();
    if p.peek().0 == Tok::RBrace {
        p.next();
    } else {
        loop {
            conditions.push(condition(&mut p)?);
            let t = p.next();
            match t.0 {
                Tok::And => continue,
                Tok::RBrace => break,
                _ => return Err(p.unexpected(&t)),
            }
        }
    }
    let end = p.next();
    if end.0 != Tok::Eof {
        return Err(p.unexpected(&end));
    }
    Ok(Query { conditions })
}

fn condition(p: &mut Parser) -> Result<Condition, ParseError> {
    let t = p.next();
    let target = match &t.0 {
        Tok::Attr(scope, name) => Target::Attr {
            scope: *scope,
            name: name.clone(),
        },
        Tok::Ident(w) if w == "name" || w == "span:name" => Target::Name,
        Tok::Ident(w) if w == "status" || w == "span:status" => Target::Status,
        Tok::Ident(w) if w == "kind" || w == "span:kind" => Target::Kind,
        _ => return Err(p.unexpected(&t)),
    };
    let t = p.next();
    let Tok::Op(op) = t.0 else {
        return Err(p.unexpected(&t));
    };
    let t = p.next();
    let value = match (&t.0, &target) {
        (Tok::Str(s), _) => Literal::Str(s.clone()),
        (Tok::Int(i), _) => Literal::Int(*i),
        (Tok::Float(f), _) => Literal::Float(*f),
        (Tok::Ident(w), _) if w == "true" || w == "false" => Literal::Bool(w == "true"),
        (Tok::Ident(w), Target::Status) => match w.as_str() {
            "unset" => Literal::Status(0),
            "ok" => Literal::Status(1),
            "error" => Literal::Status(2),
            _ => return Err(p.unexpected(&t)),
        },
        (Tok::Ident(w), Target::Kind) => match w.as_str() {
            "unspecified" => Literal::Kind(0),
            "internal" => Literal::Kind(1),
            "server" => Literal::Kind(2),
            "client" => Literal::Kind(3),
            "producer" => Literal::Kind(4),
            "consumer" => Literal::Kind(5),
            _ => return Err(p.unexpected(&t)),
        },
        _ => return Err(p.unexpected(&t)),
    };
    let regex = match (op, &value) {
        (Op::Re | Op::NotRe, Literal::Str(s)) => {
            Some(Regex::new(&format!("^(?s:{s})$")).map_err(|e| ParseError {
                col: t.1,
                message: super::logql::regex_error(s, &e),
            })?)
        }
        (Op::Re | Op::NotRe, _) => return Err(p.unexpected(&t)),
        _ => None,
    };
    Ok(Condition {
        target,
        op,
        value,
        regex,
    })
}

fn cmp_ord(op: Op, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Ne => ord != Equal,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
        Op::Re | Op::NotRe => false,
    }
}

impl Condition {
    fn compare_value(&self, v: &AnyValue) -> bool {
        let Some(v) = v.value.as_ref() else {
            return false;
        };
        match (v, &self.value) {
            (any_value::Value::StringValue(s), Literal::Str(l)) => match (&self.regex, self.op) {
                (Some(re), Op::Re) => re.is_match(s),
                (Some(re), Op::NotRe) => !re.is_match(s),
                _ => cmp_ord(self.op, s.as_str().cmp(l.as_str())),
            },
            (any_value::Value::IntValue(i), Literal::Int(l)) => cmp_ord(self.op, i.cmp(l)),
            (any_value::Value::IntValue(i), Literal::Float(l)) => (*i as f64)
                .partial_cmp(l)
                .is_some_and(|o| cmp_ord(self.op, o)),
            (any_value::Value::DoubleValue(d), Literal::Float(l)) => {
                d.partial_cmp(l).is_some_and(|o| cmp_ord(self.op, o))
            }
            (any_value::Value::DoubleValue(d), Literal::Int(l)) => d
                .partial_cmp(&(*l as f64))
                .is_some_and(|o| cmp_ord(self.op, o)),
            (any_value::Value::BoolValue(b), Literal::Bool(l)) => match self.op {
                Op::Eq => b == l,
                Op::Ne => b != l,
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether the condition holds for a span; also returns the attribute it matched on (for
    /// the search answer's `attributes`).
    pub fn matches<'a>(
        &self,
        span: &'a Span,
        resource: Option<&'a Resource>,
    ) -> (bool, Option<(&'a str, &'a AnyValue)>) {
        match &self.target {
            Target::Attr { scope, name } => {
                let found = match scope {
                    AttrScope::Span => span.attributes.iter().find(|kv| &kv.key == name),
                    AttrScope::Resource => {
                        resource.and_then(|r| r.attributes.iter().find(|kv| &kv.key == name))
                    }
                    AttrScope::Any => {
                        span.attributes
                            .iter()
                            .find(|kv| &kv.key == name)
                            .or_else(|| {
                                resource
                                    .and_then(|r| r.attributes.iter().find(|kv| &kv.key == name))
                            })
                    }
                };
                match found.and_then(|kv| kv.value.as_ref().map(|v| (kv.key.as_str(), v))) {
                    Some((k, v)) => (self.compare_value(v), Some((k, v))),
                    None => (false, None),
                }
            }
            Target::Name => {
                let v = AnyValue {
                    value: Some(any_value::Value::StringValue(span.name.clone())),
                };
                (self.compare_value(&v), None)
            }
            Target::Status => {
                let code = span.status.as_ref().map_or(0, |s| s.code);
                (self.enum_matches(code), None)
            }
            Target::Kind => (self.enum_matches(span.kind), None),
        }
    }

    fn enum_matches(&self, actual: i32) -> bool {
        let want = match self.value {
            Literal::Status(c) | Literal::Kind(c) => c,
            _ => return false,
        };
        match self.op {
            Op::Eq => actual == want,
            Op::Ne => actual != want,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_canary_query() {
        let q = parse(r#"{ resource.service.name = "otel-canary" && span.canary.probe_id = "x" }"#)
            .unwrap();
        assert_eq!(q.conditions.len(), 2);
        assert_eq!(
            q.conditions[0].target,
            Target::Attr {
                scope: AttrScope::Resource,
                name: "service.name".into()
            }
        );
        assert_eq!(q.conditions[1].value, Literal::Str("x".into()));
        assert!(parse("{}").unwrap().conditions.is_empty());
        assert!(parse(r#"{ .a = 1 && .b = true && name = "n" && status = ok }"#).is_ok());
    }

    #[test]
    fn errors_look_like_tempos() {
        assert_eq!(
            parse("{ span.canary.probe_id = }").unwrap_err().to_string(),
            "invalid TraceQL query: parse error at line 1, col 26: syntax error: unexpected }"
        );
        let e = parse(r#"{ span.a = "x""#).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid TraceQL query: parse error at line 1, col 15: "),
            "{e}"
        );
        assert!(parse("nonsense").is_err());
        assert!(parse(r#"{ span.a = "x" } extra"#).is_err());
        assert!(parse(r#"{ span.a = "x" || span.b = "y" }"#).is_err());
        assert!(parse(r#"{ span.a =~ "(" }"#).is_err());
    }
}
