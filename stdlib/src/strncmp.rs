//! `strncmp(a, b, n)`: compares at most `n` bytes of two strings, stopping at a NUL.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{Inst, Operand, Terminator};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "strncmp(str, str, n)";

/// The function.
pub const STRNCMP: Function = Function {
    name: "strncmp",
    signature: SIGNATURE,
    doc: "0 when the strings agree in their first n bytes (or up to a common NUL), 1 otherwise",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    crate::expect_args(name, args, span, 3, SIGNATURE)?;
    crate::expect_string(name, &args[0], SIGNATURE)?;
    crate::expect_string(name, &args[1], SIGNATURE)?;
    if !matches!(args[2].kind, ExprKind::Int(_)) {
        return Err(Diagnostic::error(
            args[2].span,
            "strncmp()'s length must be an integer literal",
        )
        .with_label("not an integer literal")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    Ok(Type::U64)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let a = cx.expr(&args[0])?;
    let b = cx.expr(&args[1])?;
    let ExprKind::Int(n) = args[2].kind else {
        unreachable!("checked")
    };
    let result = cx.copy(Operand::Imm(1));
    let equal = cx.new_block();
    let done = cx.new_block();
    cx.str_eq(a, b, u32::try_from(n).unwrap_or(u32::MAX), equal, done);
    cx.switch_to(equal);
    cx.emit(Inst::Copy {
        dst: result,
        src: Operand::Imm(0),
    });
    cx.terminate(Terminator::Jump(done));
    cx.switch_to(done);
    Ok(Some(Value::Scalar(result)))
}
