//! Output in bpftrace's formats (text, or JSON with `-f json`): maps printed at exit or
//! with `print()`, and events from the ring buffer.

use crate::json::{self, Format};
use crate::resolve::Resolver;
use probe_compiler::program::{EventArg, EventKind, MapMeta};
use probe_compiler::{ArgValue, BuiltinFormat};
use probe_lang::types::{Aggregation, Type};
use std::cmp::Ordering;

/// What one ring buffer record asks userspace to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Print this text; `kind` is its type in JSON output (`printf`, `time`, `join`).
    Print { kind: &'static str, text: String },
    /// `print(value)`.
    Value(ArgValue),
    /// Stop tracing.
    Exit,
    /// Delete every element of map number `.0`.
    ClearMap(u32),
    /// Zero every value of map number `.0`.
    ZeroMap(u32),
    /// Print map number `map` now: its last `top` entries (all when 0), divided by `div`.
    PrintMap { map: u32, top: u64, div: u64 },
    /// Run this shell command; its output joins ours.
    System(String),
    /// Print the contents of this file.
    Cat(String),
    /// Print this on standard error.
    Stderr(String),
}

/// Decodes one ring buffer record: its first 8 bytes are the event id.
pub fn decode_event(
    events: &[EventKind],
    record: &[u8],
    fmt: &dyn BuiltinFormat,
    symbols: &Resolver,
) -> Option<Event> {
    let id = u64::from_le_bytes(record.get(..8)?.try_into().ok()?);
    match events.get(usize::try_from(id).ok()?)? {
        EventKind::Exit => Some(Event::Exit),
        EventKind::ClearMap { map } => Some(Event::ClearMap(*map)),
        EventKind::ZeroMap { map } => Some(Event::ZeroMap(*map)),
        EventKind::PrintMap { map, top, div } => Some(Event::PrintMap {
            map: *map,
            top: *top,
            div: *div,
        }),
        EventKind::System { format, args } => {
            let values: Vec<ArgValue> = args
                .iter()
                .map(|a| decode_arg(a, record, symbols))
                .collect();
            Some(Event::System(fmt.printf(format, &values)))
        }
        EventKind::Message {
            format,
            args,
            error,
        } => {
            let values: Vec<ArgValue> = args
                .iter()
                .map(|a| decode_arg(a, record, symbols))
                .collect();
            let level = if *error { "ERROR" } else { "WARNING" };
            let text = fmt.printf(format, &values);
            let newline = if text.ends_with('\n') { "" } else { "\n" };
            Some(Event::Stderr(format!("{level}: {text}{newline}")))
        }
        EventKind::Cat { format, args } => {
            let values: Vec<ArgValue> = args
                .iter()
                .map(|a| decode_arg(a, record, symbols))
                .collect();
            Some(Event::Cat(fmt.printf(format, &values)))
        }
        EventKind::Time { format } => Some(Event::Print {
            kind: "time",
            text: crate::resolve::local_time_now(format),
        }),
        EventKind::StrftimeFormat { .. } => None,
        EventKind::Join { separator, len } => {
            let count = u64::from_le_bytes(record.get(8..16)?.try_into().ok()?);
            let parts: Vec<String> = (0..count as usize)
                .filter_map(|i| record.get(16 + i * *len as usize..16 + (i + 1) * *len as usize))
                .map(|s| show(&ArgValue::Str(s.to_vec())))
                .collect();
            Some(Event::Print {
                kind: "join",
                text: format!("{}\n", parts.join(separator)),
            })
        }
        EventKind::Print { arg } => Some(Event::Value(decode_arg(arg, record, symbols))),
        EventKind::Printf { format, args } => {
            let values: Vec<ArgValue> = args
                .iter()
                .map(|a| decode_arg(a, record, symbols))
                .collect();
            Some(Event::Print {
                kind: "printf",
                text: fmt.printf(format, &values),
            })
        }
    }
}

fn decode_arg(arg: &EventArg, record: &[u8], symbols: &Resolver) -> ArgValue {
    let start = (arg.offset as usize).min(record.len());
    let end = (start + arg.ty.size() as usize).min(record.len());
    decode_value(&arg.ty, &record[start..end], symbols, VALUE_INDENT)
}

/// How deep the frames of a stack are indented in a map key, and elsewhere.
const KEY_INDENT: usize = 4;
const VALUE_INDENT: usize = 8;

/// Decodes a value stored in the layout of `ty`; stacks and symbols are rendered, their
/// frames indented by `indent`.
pub fn decode_value(ty: &Type, bytes: &[u8], symbols: &Resolver, indent: usize) -> ArgValue {
    match ty {
        Type::Str { .. } => ArgValue::Str(bytes.to_vec()),
        Type::Printed(kind) => ArgValue::Str(symbols.render(*kind, bytes, indent).into_bytes()),
        Type::Tuple(elems) => ArgValue::Tuple(
            elems
                .iter()
                .zip(ty.tuple_offsets())
                .map(|(t, off)| {
                    let start = (off as usize).min(bytes.len());
                    let end = (start + t.size() as usize).min(bytes.len());
                    decode_value(t, &bytes[start..end], symbols, indent)
                })
                .collect(),
        ),
        Type::Int { signed, .. } => {
            let mut w = [0u8; 8];
            let n = bytes.len().min(8);
            w[..n].copy_from_slice(&bytes[..n]);
            ArgValue::Int {
                value: u64::from_le_bytes(w),
                signed: *signed,
            }
        }
        _ => ArgValue::Int {
            value: 0,
            signed: false,
        },
    }
}

/// What an event prints, in `format`: the text, or a JSON record of type `kind` (`join`
/// without its newline, as bpftrace writes it).
pub fn print(format: Format, kind: &str, text: &str) -> String {
    match format {
        Format::Text => text.to_string(),
        Format::Json if kind == "join" => {
            json::record(kind, &json::string(text.trim_end_matches('\n')))
        }
        Format::Json => json::record(kind, &json::string(text)),
    }
}

/// What `print(value)` prints, in `format`.
pub fn print_value(format: Format, v: &ArgValue) -> String {
    match format {
        Format::Text => format!("{}\n", show(v)),
        Format::Json => json::record("value", &json::value(v)),
    }
}

/// A value as text.
fn show(v: &ArgValue) -> String {
    match v {
        ArgValue::Int {
            value,
            signed: true,
        } => (*value as i64).to_string(),
        ArgValue::Int {
            value,
            signed: false,
        } => value.to_string(),
        ArgValue::Str(s) => {
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).into_owned()
        }
        ArgValue::Tuple(elems) => format!(
            "({})",
            elems.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn compare(a: &ArgValue, b: &ArgValue) -> Ordering {
    match (a, b) {
        (
            ArgValue::Int {
                value: x,
                signed: true,
            },
            ArgValue::Int { value: y, .. },
        ) => (*x as i64).cmp(&(*y as i64)),
        (ArgValue::Int { value: x, .. }, ArgValue::Int { value: y, .. }) => x.cmp(y),
        (ArgValue::Str(x), ArgValue::Str(y)) => x.cmp(y),
        (ArgValue::Tuple(x), ArgValue::Tuple(y)) => x
            .iter()
            .zip(y)
            .map(|(a, b)| compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

/// Renders one map as bpftrace prints it at exit or with `print(@m, top, div)`: one
/// `@name[key]: value` line per entry (histograms on the lines below it, then an empty
/// line), sorted by value for numbers and aggregations, by key otherwise; only the last
/// `top` entries when `top` is not 0, with aggregations divided by `div`. An empty map
/// prints an empty line (two for `avg` and `stats`, `@name: 0` for a `count()` without
/// keys), and so does the end of an `avg` or `stats` map. `entries` holds
/// each key with its value on every CPU (one value for maps that are not per-CPU).
#[allow(clippy::too_many_arguments)]
pub fn format_map(
    meta: &MapMeta,
    entries: &[crate::maps::Entry],
    fmt: &dyn BuiltinFormat,
    symbols: &Resolver,
    top: usize,
    div: u64,
    format: Format,
) -> String {
    let Some(script) = &meta.script else {
        return String::new();
    };
    let averages = matches!(
        script.value,
        Type::Agg(Aggregation::Avg { .. } | Aggregation::Stats { .. })
    );
    // The type of the map's JSON record.
    let kind = match script.value {
        Type::Agg(Aggregation::Hist { .. } | Aggregation::Lhist { .. }) => "hist",
        _ if averages => "stats",
        _ => "map",
    };
    let named =
        |data: &str| json::record(kind, &format!("{{{}: {data}}}", json::string(&script.name)));
    if entries.is_empty() {
        // bpftrace prints a count without keys that never ran as zero.
        if script.key.is_empty() && script.value == Type::Agg(Aggregation::Count) {
            return match format {
                Format::Text => format!("{}: 0\n", script.name),
                Format::Json => named("0"),
            };
        }
        return match format {
            Format::Json => String::new(),
            Format::Text if averages => "\n\n".into(),
            Format::Text => "\n".into(),
        };
    }
    struct Row {
        key: Vec<ArgValue>,
        order: Option<i128>,
        text: String,
        json: String,
        multiline: bool,
    }
    let mut rows: Vec<Row> = entries
        .iter()
        .map(|(k, per_cpu)| {
            let key: Vec<ArgValue> = script
                .key
                .iter()
                .map(|(t, off)| {
                    let s = (*off as usize).min(k.len());
                    decode_value(
                        t,
                        &k[s..(s + t.size() as usize).min(k.len())],
                        symbols,
                        KEY_INDENT,
                    )
                })
                .collect();
            match &script.value {
                Type::Agg(agg) => {
                    let cpus: Vec<&[u8]> = per_cpu
                        .iter()
                        .map(|v| &v[..meta.value_size as usize])
                        .collect();
                    let r = fmt.aggregation(*agg, &cpus, div);
                    Row {
                        key,
                        order: Some(r.order),
                        text: r.text,
                        json: r.json,
                        multiline: r.multiline,
                    }
                }
                t => {
                    let bytes = per_cpu.first().map(|v| v.as_slice()).unwrap_or(&[]);
                    let v = decode_value(t, bytes, symbols, VALUE_INDENT);
                    let order = match v {
                        ArgValue::Int {
                            value,
                            signed: true,
                        } => Some(i128::from(value as i64)),
                        ArgValue::Int { value, .. } if matches!(t, Type::Int { .. }) => {
                            Some(i128::from(value))
                        }
                        _ => None,
                    };
                    Row {
                        key,
                        order,
                        text: show(&v),
                        json: json::value(&v),
                        multiline: false,
                    }
                }
            }
        })
        .collect();
    let by_key = |a: &Row, b: &Row| {
        a.key
            .iter()
            .zip(&b.key)
            .map(|(x, y)| compare(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    rows.sort_by(|a, b| match (&a.order, &b.order) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| by_key(a, b)),
        _ => by_key(a, b),
    });
    if top > 0 && rows.len() > top {
        rows.drain(..rows.len() - top);
    }
    if format == Format::Json {
        // Keys are strings: their parts as printed, joined by commas.
        let data = match rows.as_slice() {
            [only] if only.key.is_empty() => only.json.clone(),
            _ => {
                let entries: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        let key: Vec<String> = r.key.iter().map(show).collect();
                        format!("{}: {}", json::string(&key.join(",")), r.json)
                    })
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
        };
        return named(&data);
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&script.name);
        if !r.key.is_empty() {
            let parts: Vec<String> = r.key.iter().map(show).collect();
            out.push('[');
            out.push_str(&parts.join(", "));
            out.push(']');
        }
        if r.multiline {
            out.push_str(": \n");
            out.push_str(&r.text);
        } else {
            out.push_str(": ");
            out.push_str(&r.text);
        }
        out.push('\n');
    }
    if averages {
        out.push('\n');
    }
    out
}
