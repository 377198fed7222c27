//! `delete(@m[key])` / `delete(@m, key)`: remove one element of a map.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::lower::LowerCx;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// The function.
pub const DELETE: Function = Function {
    name: "delete",
    signature: "delete(@map[key]) or delete(@map, key)",
    doc: "removes the element with that key from the map (nothing happens if there is none)",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    crate::expect_map_and_key(name, args, span, DELETE.signature)?;
    Ok(Type::Void)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let (index, key) = crate::map_and_key(args, cx)?;
    cx.delete(index, key);
    Ok(None)
}
