//! `exit()`: stop tracing, run END probes and print the maps.

use crate::{expect_args, CheckResult, Function};
use probe_compiler::lower::LowerCx;
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

const SIGNATURE: &str = "exit()";

/// The function.
pub const EXIT: Function = Function {
    name: "exit",
    signature: SIGNATURE,
    doc: "stops tracing as if Ctrl-C was pressed: END probes run, maps are printed; the probe returns at once",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 0, SIGNATURE)?;
    Ok(Type::Void)
}

fn lower(_: &Ident, _: &[Expr], _: Span, cx: &mut LowerCx) -> crate::LowerResult {
    let id = cx.add_event(EventKind::Exit);
    cx.send_event(id, &[], 8);
    cx.return_now();
    Ok(None)
}
