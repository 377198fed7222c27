//! `clear(@m)`: delete every element of a map (done by userspace, as bpftrace does).

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::lower::LowerCx;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// The function.
pub const CLEAR: Function = Function {
    name: "clear",
    signature: "clear(@map)",
    doc: "deletes every element of the map; userspace does it when the event arrives",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 1, CLEAR.signature)?;
    crate::expect_whole_map(&args[0])?;
    Ok(Type::Void)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    crate::whole_map_event(args, cx, |map| EventKind::ClearMap { map })
}
