//! Attach points: what a probe's `kind:target` text means.

use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// A resolved attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachKind {
    /// `BEGIN`: runs once before any other probe fires.
    Begin,
    /// `END`: runs once when tracing stops.
    End,
    /// `tracepoint:category:event` (short `t:`).
    Tracepoint { category: String, event: String },
    /// `kprobe:function` / `kretprobe:function` (short `k:`, `kr:`).
    Kprobe { function: String, ret: bool },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N` (short `i:`): every period on one CPU.
    Interval { period_ns: u64 },
}

impl AttachKind {
    /// Parses the text of one attach point.
    pub fn parse(text: &str, span: Span) -> Result<AttachKind, Diagnostic> {
        let parts: Vec<&str> = text.split(':').collect();
        let bad = |what: &str, usage: &str| {
            Diagnostic::error(span, format!("invalid {what} attach point `{text}`"))
                .with_label(format!("expected `{usage}`"))
        };
        match parts[0] {
            "BEGIN" | "begin" if parts.len() == 1 => Ok(AttachKind::Begin),
            "END" | "end" if parts.len() == 1 => Ok(AttachKind::End),
            special @ ("BEGIN" | "begin" | "END" | "end") => Err(Diagnostic::error(
                span,
                format!("`{special}` takes no target"),
            )
            .with_label(format!("write just `{special}`"))),
            "tracepoint" | "t" => match parts[..] {
                [_, category, event] if !category.is_empty() && !event.is_empty() => {
                    Ok(AttachKind::Tracepoint {
                        category: category.into(),
                        event: event.into(),
                    })
                }
                _ => Err(bad("tracepoint", "tracepoint:category:event")),
            },
            kind @ ("kprobe" | "k" | "kretprobe" | "kr") => match parts[..] {
                [_, function] if !function.is_empty() => Ok(AttachKind::Kprobe {
                    function: function.into(),
                    ret: kind.starts_with("kr"),
                }),
                _ => Err(bad(kind, &format!("{kind}:function"))),
            },
            "interval" | "i" => match parts[..] {
                [_, unit, count] => {
                    let scale = match unit {
                        "s" => 1_000_000_000,
                        "ms" => 1_000_000,
                        "us" => 1_000,
                        "hz" => 0,
                        _ => return Err(bad("interval", "interval:s|ms|us|hz:N")),
                    };
                    let n: u64 = count
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("interval", "interval:s|ms|us|hz:N with N > 0"))?;
                    let period_ns = if scale == 0 {
                        Some(1_000_000_000 / n)
                    } else {
                        n.checked_mul(scale)
                    }
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("interval", "a period between 1 ns and 584 years"))?;
                    Ok(AttachKind::Interval { period_ns })
                }
                _ => Err(bad("interval", "interval:s|ms|us|hz:N")),
            },
            _ => Err(
                Diagnostic::error(span, format!("unknown probe kind `{}`", parts[0]))
                    .with_label("not a probe kind")
                    .with_note(
                        "supported here: BEGIN, END, tracepoint:category:event, kprobe:function, \
                     kretprobe:function, interval:s|ms|us|hz:N",
                    ),
            ),
        }
    }

    /// True for a tracepoint whose category or event holds a wildcard (`*`, `?`).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, AttachKind::Tracepoint { category, event } if (category.clone() + event).contains(['*', '?']))
    }

    /// The attach point as written in a script.
    pub fn text(&self) -> String {
        match self {
            AttachKind::Begin => "BEGIN".into(),
            AttachKind::End => "END".into(),
            AttachKind::Tracepoint { category, event } => format!("tracepoint:{category}:{event}"),
            AttachKind::Kprobe {
                function,
                ret: false,
            } => format!("kprobe:{function}"),
            AttachKind::Kprobe {
                function,
                ret: true,
            } => format!("kretprobe:{function}"),
            AttachKind::Interval { period_ns } => format!("interval:us:{}", period_ns / 1000),
        }
    }

    /// A stable name for the program that implements this attach point.
    pub fn program_name(&self) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        };
        match self {
            AttachKind::Begin => "BEGIN".into(),
            AttachKind::End => "END".into(),
            AttachKind::Tracepoint { category, event } => {
                format!("tracepoint_{}_{}", clean(category), clean(event))
            }
            AttachKind::Kprobe {
                function,
                ret: false,
            } => format!("kprobe_{}", clean(function)),
            AttachKind::Kprobe {
                function,
                ret: true,
            } => format!("kretprobe_{}", clean(function)),
            AttachKind::Interval { period_ns } => format!("interval_{period_ns}ns"),
        }
    }
}
