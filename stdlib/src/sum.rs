//! `sum(x)`: the total of the values, per key.

use crate::{expect_integer, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, Operand, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "@map[key] = sum(int)";

/// The aggregation.
pub const SUM: AggregationDef = AggregationDef {
    name: "sum",
    signature: SIGNATURE,
    doc: "adds up the values, per map key",
    check,
    lower,
    format,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signed = expect_integer(name, args, span, SIGNATURE)?;
    Ok(Type::Agg(Aggregation::Sum { signed }))
}

fn lower(_: Aggregation, args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let x = cx.scalar(&args[0])?;
    crate::count::add_to(
        cx,
        Addr::Reg {
            base: value,
            off: 0,
        },
        Operand::Reg(x),
    );
    Ok(())
}

fn format(agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let total = per_cpu
        .iter()
        .map(|v| read_u64(v))
        .fold(0u64, u64::wrapping_add);
    let signed = matches!(agg, Aggregation::Sum { signed: true });
    crate::number(crate::widen(total, signed), div)
}
