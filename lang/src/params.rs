//! Positional parameters: `$1`, `$2`, ..., `$#` and `str($N)` replaced by what the command
//! line gave, before type checking. A parameter that was not given is 0 (or "" in `str()`).

use crate::ast::{for_each_expr_mut, ExprKind, Program};
use crate::diagnostic::Diagnostic;

/// Replaces every positional parameter of `program` with its value from `params`.
pub fn substitute(program: &mut Program, params: &[String]) -> Result<(), Vec<Diagnostic>> {
    let param = |n: u32| {
        n.checked_sub(1)
            .and_then(|i| params.get(i as usize))
            .map(String::as_str)
    };
    // First `str($N)`, which takes the parameter's text whatever it is.
    for_each_expr_mut(program, &mut |e| {
        if let ExprKind::Call { name, args } = &e.kind {
            if let [arg] = args.as_slice() {
                if let (true, ExprKind::Positional(n)) = (name.name == "str", &arg.kind) {
                    e.kind = ExprKind::Str(param(*n).unwrap_or("").to_string());
                }
            }
        }
    });
    let mut errors = vec![];
    for_each_expr_mut(program, &mut |e| match e.kind {
        ExprKind::ParamCount => e.kind = ExprKind::Int(params.len() as u64),
        ExprKind::Positional(n) => match param(n).map(parse_number) {
            None => e.kind = ExprKind::Int(0),
            Some(Some(v)) => e.kind = ExprKind::Int(v),
            Some(None) => errors.push(
                Diagnostic::error(
                    e.span,
                    format!("${n} is not a number: {:?}", param(n).unwrap_or_default()),
                )
                .with_label("used as a number here")
                .with_note(format!("use str(${n}) for its text")),
            ),
        },
        _ => {}
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A parameter's value as an integer: decimal, or hex with `0x`; negative numbers wrap.
fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok();
    }
    t.parse::<u64>()
        .ok()
        .or_else(|| t.parse::<i64>().ok().map(|v| v as u64))
}
