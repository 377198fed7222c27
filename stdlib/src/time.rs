//! `time([fmt])`: prints the local time, formatted by strftime(3), when the event arrives.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::lower::LowerCx;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "time([\"format\"])";

/// What `time()` prints without a format.
const DEFAULT_FORMAT: &str = "%H:%M:%S\n";

/// The function.
pub const TIME: Function = Function {
    name: "time",
    signature: SIGNATURE,
    doc: "prints the local time with a strftime format (default \"%H:%M:%S\\n\")",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    match args {
        [] => Ok(Type::Void),
        [Expr {
            kind: ExprKind::Str(_),
            ..
        }] => Ok(Type::Void),
        [other] => Err(
            Diagnostic::error(other.span, "time()'s format must be a string literal")
                .with_label("not a string literal")
                .with_note(format!("usage: {SIGNATURE}")),
        ),
        _ => crate::expect_args(name, args, span, 1, SIGNATURE).map(|()| Type::Void),
    }
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let format = match args.first().map(|a| &a.kind) {
        Some(ExprKind::Str(s)) => s.clone(),
        _ => DEFAULT_FORMAT.to_string(),
    };
    let id = cx.add_event(EventKind::Time { format });
    cx.send_event(id, &[], 8);
    Ok(None)
}
