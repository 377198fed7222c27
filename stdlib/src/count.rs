//! `count()`: how many times the assignment ran, per key.

use crate::{expect_args, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, AluOp, Inst, MemSize, Operand, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "@map[key] = count()";

/// The aggregation.
pub const COUNT: AggregationDef = AggregationDef {
    name: "count",
    signature: SIGNATURE,
    doc: "counts the times it runs, per map key",
    check,
    lower,
    format,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 0, SIGNATURE)?;
    Ok(Type::Agg(Aggregation::Count))
}

fn lower(_: Aggregation, _: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    add_to(
        cx,
        Addr::Reg {
            base: value,
            off: 0,
        },
        Operand::Imm(1),
    );
    Ok(())
}

/// `*at += by` on this CPU's value.
pub(crate) fn add_to(cx: &mut LowerCx, at: Addr, by: Operand) {
    let old = cx.load_u64(at);
    let new = cx.alu(AluOp::Add, old, by);
    cx.emit(Inst::Store {
        addr: at,
        src: Operand::Reg(new),
        size: MemSize::DW,
    });
}

fn format(_: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let total = per_cpu
        .iter()
        .map(|v| read_u64(v))
        .fold(0u64, u64::wrapping_add);
    crate::number(i128::from(total), div)
}
