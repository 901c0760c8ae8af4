//! What the lab's three query languages (LogQL, PromQL, TraceQL) lex and parse alike:
//! quoted strings with Go escapes, runs of word characters, and a cursor over tokens that
//! remembers each token's 1-based column for error messages in the real servers' format.

/// A cursor over `(token, column)` pairs ending with an end-of-input token, which `peek`
/// keeps returning once reached.
pub(crate) struct Tokens<T> {
    toks: Vec<(T, usize)>,
    pos: usize,
}

impl<T: Clone> Tokens<T> {
    /// `toks` must not be empty: lexers push an end-of-input token last.
    pub(crate) fn new(toks: Vec<(T, usize)>) -> Self {
        Tokens { toks, pos: 0 }
    }

    pub(crate) fn peek(&self) -> &(T, usize) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    pub(crate) fn next(&mut self) -> (T, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    /// Steps back one token (to re-read what `next` returned).
    pub(crate) fn back(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }
}

/// The index after the run of characters starting at `chars[i]` that satisfy `in_word`.
pub(crate) fn word_end(chars: &[char], i: usize, in_word: impl Fn(char) -> bool) -> usize {
    let mut j = i;
    while j < chars.len() && in_word(chars[j]) {
        j += 1;
    }
    j
}

/// Reads a `"…"` (Go escapes) or `` `…` `` string starting at `chars[i]`; returns the value
/// and the index after it.
pub(crate) fn read_string(chars: &[char], i: usize) -> Result<(String, usize), usize> {
    let quote = chars[i];
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == quote {
            return Ok((out, j + 1));
        }
        if c == '\\' && quote != '`' {
            j += 1;
            let Some(&e) = chars.get(j) else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'u' => {
                    let hex: String = chars
                        .get(j + 1..j + 5)
                        .map(|s| s.iter().collect())
                        .unwrap_or_default();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) => {
                            out.push(ch);
                            j += 4;
                        }
                        None => return Err(j),
                    }
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
        j += 1;
    }
    Err(i)
}
