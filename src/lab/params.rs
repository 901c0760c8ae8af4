//! Parsing and printing times, durations and numbers the way the real servers do, so readers
//! that get them wrong fail against the lab as they would in the field: Loki's ns/seconds/RFC
//! 3339 timestamps, Prometheus' float seconds with millisecond rounding, PromQL durations and
//! Go's float formatting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch of `t` (negative before 1970).
pub fn nanos_of(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Milliseconds since the epoch of `t`, truncated (Prometheus `timestamp.FromTime`).
pub fn millis_of(t: SystemTime) -> i64 {
    (nanos_of(t).div_euclid(1_000_000)) as i64
}

/// RFC 3339 (`Z` or `±hh:mm` offset, optional fraction) to ns since the epoch.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (base, offset_secs) = if let Some(b) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        (b.to_string(), 0i64)
    } else {
        let n = s.len();
        if n < 6 || !s.is_char_boundary(n - 6) {
            return None;
        }
        let (b, off) = s.split_at(n - 6);
        let sign = match off.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hh: i64 = off.get(1..3)?.parse().ok()?;
        let mm: i64 = off.get(4..6)?.parse().ok()?;
        if off.as_bytes()[3] != b':' {
            return None;
        }
        (b.to_string(), sign * (hh * 3600 + mm * 60))
    };
    if !base.contains('T') && !base.contains('t') {
        return None;
    }
    let t = humantime::parse_rfc3339(&format!("{base}Z")).ok()?;
    Some(nanos_of(t) - offset_secs as i128 * 1_000_000_000)
}

/// Loki's `parseTimestamp`: float seconds when it has a dot, an integer (seconds up to 10
/// digits, else nanoseconds), or RFC 3339. Returns ns since the epoch.
pub fn parse_loki_time(value: &str) -> Result<i128, String> {
    if value.contains('.')
        && let Some(f) = value.parse::<f64>().ok().filter(|f| f.is_finite())
    {
        let secs = f.trunc();
        let frac = ((f - secs) * 1000.0).round() / 1000.0;
        return Ok((secs as i128)
            .saturating_mul(1_000_000_000)
            .saturating_add((frac * 1e9).round() as i128));
    }
    match value.parse::<i64>() {
        Ok(n) if value.len() <= 10 => Ok(n as i128 * 1_000_000_000),
        Ok(n) => Ok(n as i128),
        Err(e) => parse_rfc3339_nanos(value)
            .ok_or_else(|| format!("strconv.ParseInt: parsing {value:?}: {}", go_num_err(&e))),
    }
}

fn go_num_err(e: &std::num::ParseIntError) -> &'static str {
    match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "value out of range"
        }
        _ => "invalid syntax",
    }
}

/// Prometheus' `parseTime`: float unix seconds rounded to the millisecond, or RFC 3339.
/// Returns ms since the epoch.
pub fn parse_prom_time(value: &str) -> Result<i64, String> {
    if let Some(f) = value.parse::<f64>().ok().filter(|f| f.is_finite()) {
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        return Ok((secs as i64).saturating_mul(1000).saturating_add(ms as i64));
    }
    parse_rfc3339_nanos(value)
        .map(|ns| ns.div_euclid(1_000_000) as i64)
        .ok_or_else(|| format!("cannot parse {value:?} to a valid timestamp"))
}

/// A PromQL/Prometheus duration (`5m`, `1h30m`, `500ms`, `1d`, `2w`, `1y`) in ms.
pub fn parse_prom_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("not a valid duration string: {s:?}");
    if s.is_empty() {
        return Err(bad());
    }
    let b = s.as_bytes();
    let (mut i, mut total) = (0usize, 0i64);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(bad());
        }
        let n: i64 = s[start..i].parse().map_err(|_| bad())?;
        let unit_start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &s[unit_start..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// A duration parameter as Prometheus reads it (`lookback_delta`, `step`): float seconds or a
/// duration string. Returns ms.
pub fn parse_prom_duration_param(s: &str) -> Result<i64, String> {
    if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
        return Ok((f * 1000.0).round() as i64);
    }
    parse_prom_duration(s).map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

/// A sample timestamp as Prometheus writes it: seconds, then `.` and the milliseconds with
/// trailing zeros trimmed (`1795240244.93`), nothing after whole seconds.
pub fn format_prom_ts(ms: i64) -> String {
    let (sign, ms) = if ms < 0 {
        ("-", ms.unsigned_abs())
    } else {
        ("", ms.unsigned_abs())
    };
    let (secs, mut frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return format!("{sign}{secs}");
    }
    let mut width = 3;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    format!("{sign}{secs}.{frac:0width$}")
}

/// A sample value as Prometheus writes it: Go's `strconv.FormatFloat(v, 'f', -1, 64)`
/// (shortest exact digits, never an exponent), `NaN`, `+Inf`, `-Inf`.
pub fn format_prom_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's shortest round-trip Display never uses an exponent: same digits as Go 'f'/-1.
        format!("{v}")
    }
}

/// A float as OTel's `pcommon.Value.AsString` (ES6 number-to-string) prints it.
pub fn format_es6_float(v: f64) -> String {
    if !v.is_finite() {
        return format!("json: unsupported value: {}", format_prom_value(v));
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust: "1e21" / "1.5e-7"; Go: "1e+21" / "1.5e-07" cleaned to "1.5e-7".
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{v}")
    }
}

/// A float as Go's `encoding/json` prints a float64 (used in stats objects).
pub fn format_go_json_float(v: f64) -> String {
    format_es6_float(v)
}

/// Now as a duration since the epoch (zero before 1970).
pub fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prom_formats_match_the_fixtures() {
        assert_eq!(format_prom_ts(1_795_240_244_930), "1795240244.93");
        assert_eq!(format_prom_ts(1_795_240_244_933), "1795240244.933");
        assert_eq!(format_prom_ts(1_795_240_244_000), "1795240244");
        assert_eq!(format_prom_ts(1_795_240_244_005), "1795240244.005");
        assert_eq!(format_prom_value(1_795_240_244_889.0), "1795240244889");
        assert_eq!(format_prom_value(0.1), "0.1");
        assert_eq!(format_prom_value(1e21), "1000000000000000000000");
        assert_eq!(format_prom_value(f64::INFINITY), "+Inf");
        assert_eq!(format_es6_float(1e21), "1e+21");
        assert_eq!(format_es6_float(1.5e-7), "1.5e-7");
        assert_eq!(format_es6_float(2.5), "2.5");
    }

    #[test]
    fn times_parse_like_the_servers() {
        assert_eq!(parse_prom_time("1795240244.933"), Ok(1_795_240_244_933));
        assert_eq!(parse_prom_time("1795240244"), Ok(1_795_240_244_000));
        assert_eq!(
            parse_prom_time("2026-11-21T05:50:44.933Z"),
            Ok(1_795_240_244_933)
        );
        assert_eq!(
            parse_prom_time("2026-11-21T06:50:44.933+01:00"),
            Ok(1_795_240_244_933)
        );
        assert!(parse_prom_time("yesterday").is_err());
        assert_eq!(
            parse_loki_time("1795240244499455290"),
            Ok(1_795_240_244_499_455_290)
        );
        assert_eq!(parse_loki_time("1795240244"), Ok(1_795_240_244_000_000_000));
        assert_eq!(
            parse_loki_time("1795240244.5"),
            Ok(1_795_240_244_500_000_000)
        );
        assert!(parse_loki_time("soon").is_err());
        assert_eq!(parse_prom_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_prom_duration("500ms"), Ok(500));
        assert!(parse_prom_duration("5").is_err());
        assert!(parse_prom_duration("5x").is_err());
        // Absurd inputs saturate instead of overflowing.
        assert!(parse_prom_time("-9e18").is_ok());
        assert!(parse_loki_time("1.5e300").is_ok());
        assert_eq!(format_prom_ts(i64::MIN), "-9223372036854775.808");
    }
}
