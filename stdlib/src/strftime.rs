//! `strftime(format, nsecs)`: a time (nanoseconds of the clock `nsecs` reads), printed
//! as local time with a strftime(3) format (`%f`: microseconds).

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::ir::Operand;
use probe_compiler::lower::LowerCx;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::{Printed, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "strftime(\"format\", nsecs)";

/// The function.
pub const STRFTIME: Function = Function {
    name: "strftime",
    signature: SIGNATURE,
    doc: "a time in nanoseconds (as nsecs reads it), printed as local time with a strftime format",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 2, SIGNATURE)?;
    if !matches!(args[0].kind, ExprKind::Str(_)) {
        return Err(Diagnostic::error(
            args[0].span,
            "strftime()'s format must be a string literal",
        )
        .with_label("not a string literal")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    if !args[1].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[1].span,
            format!("strftime() takes nanoseconds, not {}", args[1].ty),
        )
        .with_label("not an integer")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    Ok(Type::Printed(Printed::Time))
}

/// The value is the time and the number of the event that holds the format.
fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let ExprKind::Str(format) = &args[0].kind else {
        unreachable!("checked")
    };
    let format_id = cx.add_event(EventKind::StrftimeFormat {
        format: format.clone(),
    });
    let nsecs = cx.scalar(&args[1])?;
    Ok(Some(crate::printed_words(
        cx,
        Operand::Reg(nsecs),
        Operand::Imm(format_id as i64),
    )))
}
