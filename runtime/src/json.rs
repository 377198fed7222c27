//! bpftrace's `-f json` output: one JSON object per line, `{"type": ..., "data": ...}`.

use probe_compiler::ArgValue;

/// How probe prints what it prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// bpftrace's text output.
    #[default]
    Text,
    /// One JSON object per line, as bpftrace's `-f json`.
    Json,
}

/// A JSON string: quotes, backslashes and control characters escaped as bpftrace does.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value: integers as numbers, strings as strings, tuples as arrays (without spaces,
/// as bpftrace writes them).
pub fn value(v: &ArgValue) -> String {
    match v {
        ArgValue::Int {
            value,
            signed: true,
        } => (*value as i64).to_string(),
        ArgValue::Int { value, .. } => value.to_string(),
        ArgValue::Str(bytes) => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            string(&String::from_utf8_lossy(&bytes[..end]))
        }
        ArgValue::Tuple(elems) => {
            format!(
                "[{}]",
                elems.iter().map(value).collect::<Vec<_>>().join(",")
            )
        }
    }
}

/// One output line: `{"type": kind, "data": data}` and a newline; `data` is JSON already.
pub fn record(kind: &str, data: &str) -> String {
    format!("{{\"type\": \"{kind}\", \"data\": {data}}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_bpftrace_escapes_them() {
        assert_eq!(
            string("a\"b\\c\n\td\u{1}é"),
            "\"a\\\"b\\\\c\\n\\td\\u0001é\""
        );
    }

    #[test]
    fn tuples_are_arrays_without_spaces() {
        let v = ArgValue::Tuple(vec![
            ArgValue::Int {
                value: 1,
                signed: false,
            },
            ArgValue::Str(b"two\0\0".to_vec()),
        ]);
        assert_eq!(value(&v), "[1,\"two\"]");
        assert_eq!(
            record("value", &value(&v)),
            "{\"type\": \"value\", \"data\": [1,\"two\"]}\n"
        );
    }
}
