//! `print(@map[, top[, div]])` prints a map as it is printed at exit (its last `top`
//! entries, values divided by `div`); `print(value)` prints a value on a line.

use crate::{CheckResult, Function};
use probe_compiler::lower::LowerCx;
use probe_compiler::program::EventArg;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "print(@map[, top[, div]]) or print(value)";

/// The function.
pub const PRINT: Function = Function {
    name: "print",
    signature: SIGNATURE,
    doc: "prints a whole map now (its last `top` entries, values divided by `div`), or one value",
    check,
    lower,
};

fn whole_map(args: &[Expr]) -> bool {
    matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map(m)) if m.keys.is_empty())
}

/// `top` or `div`: a non-negative integer literal.
fn literal(e: &Expr) -> Result<u64, Diagnostic> {
    match e.kind {
        ExprKind::Int(v) => Ok(v),
        _ => Err(
            Diagnostic::error(e.span, "print()'s top and div must be integer literals")
                .with_label("not an integer literal")
                .with_note("for example `print(@m, 10)` prints the 10 largest entries"),
        ),
    }
}

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    if whole_map(args) && args.len() <= 3 {
        for a in &args[1..] {
            literal(a)?;
        }
        return Ok(Type::Void);
    }
    crate::expect_args(name, args, span, 1, SIGNATURE)?;
    match &args[0].ty {
        Type::Int { .. } | Type::Bool | Type::Str { .. } | Type::Tuple(_) | Type::Printed(_) => {
            Ok(Type::Void)
        }
        other => Err(
            Diagnostic::error(args[0].span, format!("print() cannot print {other}"))
                .with_label("this value")
                .with_note("print takes a map, an integer, a string or a tuple"),
        ),
    }
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> crate::LowerResult {
    if whole_map(args) {
        let ExprKind::Map(m) = &args[0].kind else {
            unreachable!("checked")
        };
        let map = cx.map_index(&m.name);
        let top = args.get(1).map_or(Ok(0), literal)?;
        let div = args.get(2).map_or(Ok(1), literal)?;
        let id = cx.add_event(EventKind::PrintMap { map, top, div });
        cx.send_event(id, &[], 8);
        return Ok(None);
    }
    let ty = match &args[0].ty {
        Type::Int { signed, .. } => Type::Int {
            bits: 64,
            signed: *signed,
        },
        Type::Bool => Type::U64,
        t => t.clone(),
    };
    let v = cx.expr(&args[0])?;
    let arg = EventArg { ty, offset: 8 };
    let size = 8 + arg.ty.size().div_ceil(8) * 8;
    let id = cx.add_event(EventKind::Print { arg: arg.clone() });
    cx.send_event(id, &[(v, arg)], size);
    Ok(None)
}
