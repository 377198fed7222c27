//! `len(@m)`: the number of elements of a map, counted in the kernel.

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// The function.
pub const LEN: Function = Function {
    name: "len",
    signature: "len(@map)",
    doc: "the number of elements in the map (walks the map with bpf_for_each_map_elem)",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 1, LEN.signature)?;
    crate::expect_whole_map(&args[0])?;
    Ok(Type::I64)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let ExprKind::Map(m) = &args[0].kind else {
        unreachable!("checked")
    };
    let map = cx.map_index(&m.name);
    Ok(Some(Value::Scalar(cx.map_len(map))))
}
