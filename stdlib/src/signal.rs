//! `signal(sig)`: sends a signal to the current process (with `--unsafe`), by number or
//! by name (`"KILL"`, `"SIGKILL"`); `signal_thread(sig)` to the current thread only.

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::ir::Operand;
use probe_compiler::lower::{helper, LowerCx};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "signal(sig) or signal(\"SIGNAME\")";

/// The function.
pub const SIGNAL: Function = Function {
    name: "signal",
    signature: SIGNATURE,
    doc: "sends a signal to the current process (needs --unsafe)",
    check,
    lower,
};

/// The number of a signal literal: a name with or without `SIG`, or a number 1 to 64.
fn literal(e: &Expr) -> Option<Result<i64, Diagnostic>> {
    let n = match &e.kind {
        ExprKind::Str(s) => probe_lang::signals::number(s),
        ExprKind::Int(v) => Some(*v as i64).filter(|v| (1..=64).contains(v)),
        _ => return None,
    };
    Some(n.ok_or_else(|| {
        Diagnostic::error(e.span, "no such signal")
            .with_label("not a signal")
            .with_note("signals are named like \"SIGKILL\" or \"KILL\", or numbered 1 to 64")
    }))
}

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 1, SIGNATURE)?;
    match literal(&args[0]) {
        Some(r) => r.map(|_| Type::Void),
        None if args[0].ty.is_scalar() => Ok(Type::Void),
        None => Err(Diagnostic::error(args[0].span, "expected a signal")
            .with_label("not a signal number or name")
            .with_note(format!("usage: {SIGNATURE}"))),
    }
}

/// The function `signal_thread`.
pub const SIGNAL_THREAD: Function = Function {
    name: "signal_thread",
    signature: "signal_thread(sig) or signal_thread(\"SIGNAME\")",
    doc: "sends a signal to the current thread (needs --unsafe)",
    check,
    lower: |_, args, _, cx| send(args, cx, helper::SEND_SIGNAL_THREAD),
};

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    send(args, cx, helper::SEND_SIGNAL)
}

fn send(args: &[Expr], cx: &mut LowerCx, helper: u32) -> LowerResult {
    let sig = match literal(&args[0]) {
        Some(n) => Operand::Imm(n?),
        None => Operand::Reg(cx.scalar(&args[0])?),
    };
    cx.call(helper, vec![sig]);
    Ok(None)
}
