//! `count()`: how many times the assignment ran, per key.

use crate::{expect_args, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, AluOp, Inst, MemSize, Operand, VReg};
use probe_compiler::lower::LowerCx;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "@map[key] = count()";

/// The aggregation.
pub const COUNT: AggregationDef = AggregationDef {
    name: "count",
    signature: SIGNATURE,
    doc: "counts the times it runs, per map key",
    kind: Aggregation::Count,
    check,
    lower,
    format,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 0, SIGNATURE)?;
    Ok(Type::Agg(Aggregation::Count))
}

fn lower(_args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let at = Addr::Reg {
        base: value,
        off: 0,
    };
    let old = cx.load_u64(at);
    let new = cx.alu(AluOp::Add, old, Operand::Imm(1));
    cx.emit(Inst::Store {
        addr: at,
        src: Operand::Reg(new),
        size: MemSize::DW,
    });
    Ok(())
}

fn format(per_cpu: &[&[u8]]) -> String {
    per_cpu
        .iter()
        .map(|v| read_u64(v))
        .fold(0u64, u64::wrapping_add)
        .to_string()
}
