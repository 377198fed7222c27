//! `min(x)` and `max(x)`: the least and the greatest value, per key. Each CPU keeps its
//! extreme and whether it has seen a value; CPUs that have not are left out when merging.

use crate::{expect_integer, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, CmpOp, Inst, MemSize, Operand, Terminator, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

/// The aggregation `min`.
pub const MIN: AggregationDef = AggregationDef {
    name: "min",
    signature: "@map[key] = min(int)",
    doc: "keeps the least value, per map key",
    check: |name, args, span| {
        let signed = expect_integer(name, args, span, "@map[key] = min(int)")?;
        Ok(Type::Agg(Aggregation::Min { signed }))
    },
    lower,
    format,
};

/// The aggregation `max`.
pub const MAX: AggregationDef = AggregationDef {
    name: "max",
    signature: "@map[key] = max(int)",
    doc: "keeps the greatest value, per map key",
    check: check_max,
    lower,
    format,
};

fn check_max(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signed = expect_integer(name, args, span, "@map[key] = max(int)")?;
    Ok(Type::Agg(Aggregation::Max { signed }))
}

/// Whether `x` replaces the kept value `kept` (true: `x < kept` for min).
fn better(agg: Aggregation) -> CmpOp {
    match agg {
        Aggregation::Min { signed: true } => CmpOp::SLt,
        Aggregation::Min { signed: false } => CmpOp::Lt,
        Aggregation::Max { signed: true } => CmpOp::SGt,
        _ => CmpOp::Gt,
    }
}

fn lower(agg: Aggregation, args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let x = cx.scalar(&args[0])?;
    let kept_at = Addr::Reg {
        base: value,
        off: 0,
    };
    let set_at = Addr::Reg {
        base: value,
        off: 8,
    };
    let set = cx.load_u64(set_at);
    let compare = cx.new_block();
    let write = cx.new_block();
    let done = cx.new_block();
    cx.branch_if_zero(set, write, compare);
    cx.switch_to(compare);
    let kept = cx.load_u64(kept_at);
    cx.terminate(Terminator::Branch {
        cond: better(agg),
        lhs: x,
        rhs: Operand::Reg(kept),
        then: write,
        otherwise: done,
    });
    cx.switch_to(write);
    cx.emit(Inst::Store {
        addr: kept_at,
        src: Operand::Reg(x),
        size: MemSize::DW,
    });
    cx.emit(Inst::Store {
        addr: set_at,
        src: Operand::Imm(1),
        size: MemSize::DW,
    });
    cx.terminate(Terminator::Jump(done));
    cx.switch_to(done);
    Ok(())
}

fn format(agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let (signed, max) = match agg {
        Aggregation::Min { signed } => (signed, false),
        Aggregation::Max { signed } => (signed, true),
        _ => unreachable!("min_max formats min and max"),
    };
    let kept = per_cpu
        .iter()
        .filter(|v| read_u64(v.get(8..).unwrap_or(&[])) != 0)
        .map(|v| crate::widen(read_u64(v), signed));
    let value = if max { kept.max() } else { kept.min() };
    crate::number(value.unwrap_or(0), div)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(value: i64, set: bool) -> Vec<u8> {
        [value.to_le_bytes(), u64::from(set).to_le_bytes()].concat()
    }

    #[test]
    fn cpus_that_saw_no_value_are_left_out() {
        let (a, b, c) = (cpu(5, true), cpu(0, false), cpu(-2, true));
        let cpus: Vec<&[u8]> = vec![&a, &b, &c];
        let min = format(Aggregation::Min { signed: true }, &cpus, 1);
        let max = format(Aggregation::Max { signed: true }, &cpus, 1);
        assert_eq!((min.text.as_str(), max.text.as_str()), ("-2", "5"));
        let only_unset: Vec<&[u8]> = vec![&b];
        assert_eq!(
            format(Aggregation::Max { signed: true }, &only_unset, 1).text,
            "0"
        );
    }
}
