//! `printf(fmt, args...)`: formatted output, sent to userspace as an event and rendered
//! there with C's conversions.

use crate::{CheckResult, Function};
use probe_compiler::lower::LowerCx;
use probe_compiler::program::EventArg;
use probe_compiler::{ArgValue, EventKind};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "printf(\"format\", args...)";

/// The function.
pub const PRINTF: Function = Function {
    name: "printf",
    signature: SIGNATURE,
    doc: "prints formatted text: %d %i %u %x %X %o %s %c %p %% with flags (-+ 0#), width and precision; %r for buf()",
    check,
    lower,
};

/// The widest field a conversion may ask for.
const MAX_WIDTH: usize = 4096;

/// One piece of a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as is (`%%` already turned into `%`).
    Text(String),
    /// A conversion such as `%-8s`.
    Conv(Conversion),
}

/// A conversion specification.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Conversion {
    pub left: bool,
    pub plus: bool,
    pub space: bool,
    pub zero: bool,
    pub alt: bool,
    pub width: usize,
    pub precision: Option<usize>,
    /// One of `d i u x X o s c p`.
    pub conv: char,
}

impl Conversion {
    /// True if the conversion prints a string.
    pub fn takes_string(&self) -> bool {
        matches!(self.conv, 's' | 'r')
    }
}

/// Splits a format string into text and conversions. The error is a byte offset into the
/// format and a message.
pub fn parse(format: &str) -> Result<Vec<Piece>, (usize, String)> {
    let mut out = vec![];
    let mut text = String::new();
    let b = format.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let ch = format[i..].chars().next().expect("in bounds");
            text.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        i += 1;
        if b.get(i) == Some(&b'%') {
            text.push('%');
            i += 1;
            continue;
        }
        let mut c = Conversion::default();
        while let Some(&f) = b.get(i) {
            match f {
                b'-' => c.left = true,
                b'+' => c.plus = true,
                b' ' => c.space = true,
                b'0' => c.zero = true,
                b'#' => c.alt = true,
                _ => break,
            }
            i += 1;
        }
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            c.width = c.width * 10 + usize::from(d - b'0');
            if c.width > MAX_WIDTH {
                return Err((
                    start,
                    format!(
                        "the width of `%{}` is over {MAX_WIDTH}",
                        &format[start + 1..=i]
                    ),
                ));
            }
            i += 1;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let mut p = 0;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                p = p * 10 + usize::from(d - b'0');
                if p > MAX_WIDTH {
                    return Err((
                        start,
                        format!(
                            "the precision of `%{}` is over {MAX_WIDTH}",
                            &format[start + 1..=i]
                        ),
                    ));
                }
                i += 1;
            }
            c.precision = Some(p);
        }
        while let Some(b'l' | b'h' | b'z' | b'j' | b't') = b.get(i) {
            i += 1;
        }
        match b.get(i) {
            Some(&ch @ (b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b's' | b'r' | b'c' | b'p')) => {
                c.conv = ch as char
            }
            Some(_) => {
                let ch = format[i..].chars().next().expect("in bounds");
                return Err((start, format!("unknown conversion `%{ch}`")));
            }
            None => {
                return Err((
                    start,
                    "the format ends in the middle of a conversion".into(),
                ))
            }
        }
        i += 1;
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut text)));
        }
        out.push(Piece::Conv(c));
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

fn conversions(pieces: &[Piece]) -> impl Iterator<Item = &Conversion> {
    pieces.iter().filter_map(|p| match p {
        Piece::Conv(c) => Some(c),
        Piece::Text(_) => None,
    })
}

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    check_formatted(name, args, span, SIGNATURE)?;
    Ok(Type::Void)
}

/// Checks a call whose arguments are a format string and the values for its conversions
/// (`printf`, `system`, `cat`).
pub(crate) fn check_formatted(
    name: &Ident,
    args: &[Expr],
    span: Span,
    signature: &str,
) -> Result<(), Diagnostic> {
    let f = &name.name;
    let Some(first) = args.first() else {
        return Err(
            Diagnostic::error(span, format!("{f}() needs a format string"))
                .with_label("no arguments")
                .with_note(format!("usage: {signature}")),
        );
    };
    let ExprKind::Str(format) = &first.kind else {
        return Err(Diagnostic::error(
            first.span,
            format!("{f}()'s format must be a string literal"),
        )
        .with_label("not a string literal")
        .with_note(format!(
            "write the format in double quotes: {f}(\"%d\\n\", pid)"
        )));
    };
    let pieces = parse(format).map_err(|(_, msg)| {
        Diagnostic::error(first.span, format!("invalid printf format: {msg}"))
            .with_label("in this format")
            .with_note("conversions are %d %i %u %x %X %o %s %c %p, and %% for a percent sign")
    })?;
    let convs: Vec<&Conversion> = conversions(&pieces).collect();
    let given = &args[1..];
    if convs.len() != given.len() {
        let d = Diagnostic::error(
            span,
            format!(
                "{f}() format has {} conversion{} but {} argument{} given",
                convs.len(),
                if convs.len() == 1 { "" } else { "s" },
                given.len(),
                if given.len() == 1 { " is" } else { "s are" },
            ),
        )
        .with_label("in this call")
        .with_related(first.span, "the format");
        return Err(d.with_note("give one argument per conversion"));
    }
    for (c, a) in convs.iter().zip(given) {
        let ok = match a.ty {
            Type::Str { .. } | Type::Printed(_) => c.takes_string(),
            Type::Int { .. } | Type::Bool | Type::Ptr(_) => !c.takes_string(),
            _ => false,
        };
        if !ok {
            let want = if c.takes_string() {
                "a string"
            } else {
                "an integer"
            };
            return Err(Diagnostic::error(
                a.span,
                format!("%{} expects {want}, found {}", c.conv, a.ty),
            )
            .with_label(format!("this is {}", a.ty))
            .with_related(first.span, "the conversion is in this format"));
        }
    }
    Ok(())
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> crate::LowerResult {
    lower_formatted(args, cx, |format, args| EventKind::Printf { format, args })
}

/// Sends the values of a format's conversions in an event made by `event`.
pub(crate) fn lower_formatted(
    args: &[Expr],
    cx: &mut LowerCx,
    event: fn(String, Vec<EventArg>) -> EventKind,
) -> crate::LowerResult {
    let ExprKind::Str(format) = &args[0].kind else {
        unreachable!("checked")
    };
    let mut offset = 8u32;
    let mut values = vec![];
    for a in &args[1..] {
        let ty = match &a.ty {
            t @ (Type::Str { .. } | Type::Printed(_)) => t.clone(),
            _ => Type::Int {
                bits: 64,
                signed: matches!(a.ty, Type::Int { signed: true, .. }),
            },
        };
        let v = cx.expr(a)?;
        values.push((
            v,
            EventArg {
                ty: ty.clone(),
                offset,
            },
        ));
        offset += ty.size().div_ceil(8) * 8;
    }
    let id = cx.add_event(event(
        format.clone(),
        values.iter().map(|(_, a)| a.clone()).collect(),
    ));
    cx.send_event(id, &values, offset);
    Ok(None)
}

/// Renders a format with its arguments, as C's printf would.
pub fn render(format: &str, args: &[ArgValue]) -> String {
    let Ok(pieces) = parse(format) else {
        return format.to_string();
    };
    let mut out = String::new();
    let mut args = args.iter();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Conv(c) => {
                let body = match (args.next(), c.conv) {
                    (Some(ArgValue::Str(s)), _) => {
                        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                        let mut s = String::from_utf8_lossy(&s[..end]).into_owned();
                        if let Some(p) = c.precision {
                            s = s.chars().take(p).collect();
                        }
                        pad(&c, String::new(), s)
                    }
                    (Some(ArgValue::Int { value, signed }), conv) => int(&c, conv, *value, *signed),
                    (None | Some(ArgValue::Tuple(_)), _) => String::new(),
                };
                out.push_str(&body);
            }
        }
    }
    out
}

fn int(c: &Conversion, conv: char, value: u64, signed: bool) -> String {
    let (sign, digits) = match conv {
        'd' | 'i' => {
            let v = value as i64;
            let _ = signed;
            let sign = if v < 0 {
                "-"
            } else if c.plus {
                "+"
            } else if c.space {
                " "
            } else {
                ""
            };
            (sign, v.unsigned_abs().to_string())
        }
        'u' => ("", value.to_string()),
        'x' => ("", format!("{value:x}")),
        'X' => ("", format!("{value:X}")),
        'o' => ("", format!("{value:o}")),
        'p' => return pad(c, String::new(), format!("0x{value:x}")),
        'c' => return pad(c, String::new(), char::from(value as u8).to_string()),
        _ => ("", value.to_string()),
    };
    let mut digits = digits;
    if let Some(p) = c.precision {
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let mut prefix = sign.to_string();
    if c.alt && value != 0 {
        match conv {
            'x' => prefix.push_str("0x"),
            'X' => prefix.push_str("0X"),
            'o' => prefix.push('0'),
            _ => {}
        }
    }
    if c.zero && !c.left && c.precision.is_none() && prefix.len() + digits.len() < c.width {
        digits = "0".repeat(c.width - prefix.len() - digits.len()) + &digits;
    }
    pad(c, prefix, digits)
}

fn pad(c: &Conversion, prefix: String, body: String) -> String {
    let s = prefix + &body;
    let n = s.chars().count();
    if n >= c.width {
        s
    } else if c.left {
        s + &" ".repeat(c.width - n)
    } else {
        " ".repeat(c.width - n) + &s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(v: i64) -> ArgValue {
        ArgValue::Int {
            value: v as u64,
            signed: true,
        }
    }

    #[test]
    fn renders_like_c() {
        let s = |x: &str| ArgValue::Str(x.as_bytes().to_vec());
        assert_eq!(
            render(
                "%5d|%-4s|%x|%c|%%|%u\n",
                &[i(42), s("ab"), i(255), i(65), i(7)]
            ),
            "   42|ab  |ff|A|%|7\n"
        );
        assert_eq!(
            render(
                "%05d %-5d| %+d %X %#x %o",
                &[i(-42), i(3), i(5), i(255), i(255), i(8)]
            ),
            "-0042 3    | +5 FF 0xff 10"
        );
        assert_eq!(
            render("%.2s|%8.3d|%lu|%llx", &[s("abc"), i(7), i(9), i(16)]),
            "ab|     007|9|10"
        );
        assert_eq!(render("%d", &[i(-1)]), "-1");
        assert_eq!(render("%u", &[i(-1)]), "18446744073709551615");
    }

    #[test]
    fn rejects_bad_formats() {
        assert_eq!(parse("%q").unwrap_err().1, "unknown conversion `%q`");
        assert!(parse("abc %").is_err());
        assert_eq!(parse("a%%b").unwrap(), vec![Piece::Text("a%b".into())]);
        // Found by fuzzing: widths that overflow.
        assert_eq!(
            parse("[%88888888888888888888888s]").unwrap_err().1,
            "the width of `%8888` is over 4096"
        );
        assert!(parse("%.99999999999999999999d").is_err());
    }
}
