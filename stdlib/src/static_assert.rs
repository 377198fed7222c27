//! `static_assert(condition, "message")`: a condition checked when the script is compiled
//! (literals, `sizeof`, `offsetof` and operators on them); false stops compilation with
//! the message. It emits no code.

use crate::{expect_args, CheckResult, Function};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "static_assert(condition, \"message\")";

/// The function.
pub const STATIC_ASSERT: Function = Function {
    name: "static_assert",
    signature: SIGNATURE,
    doc: "stops compilation with the message when a condition known when compiling is false",
    check,
    lower: |_, _, _, _| Ok(None),
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 2, SIGNATURE)?;
    let ExprKind::Str(message) = &args[1].kind else {
        return Err(Diagnostic::error(
            args[1].span,
            "static_assert()'s message must be a string literal",
        )
        .with_label("not a string literal")
        .with_note(format!("usage: {SIGNATURE}")));
    };
    match args[0].constant() {
        Some(0) => Err(Diagnostic::error(
            args[0].span,
            format!("static assertion failed: {message}"),
        )
        .with_label("this is false")
        .with_note("the script asserts it when it is compiled")),
        Some(_) => Ok(Type::Void),
        None => Err(Diagnostic::error(
            args[0].span,
            "static_assert() needs a condition known when the script is compiled",
        )
        .with_label("known only when the probe runs")
        .with_note("use literals, sizeof and offsetof; assert() checks values at run time")),
    }
}
