//! `zero(@m)`: set every value of a map to zero (done by userspace, as bpftrace does).

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::lower::LowerCx;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// The function.
pub const ZERO: Function = Function {
    name: "zero",
    signature: "zero(@map)",
    doc: "sets every value of the map to zero, keeping its keys; userspace does it when the event arrives",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 1, ZERO.signature)?;
    crate::expect_whole_map(&args[0])?;
    Ok(Type::Void)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    crate::whole_map_event(args, cx, |map| EventKind::ZeroMap { map })
}
