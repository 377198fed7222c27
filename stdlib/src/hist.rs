//! `hist(x[, bits])`: a power-of-two histogram. Bucket 0 counts negative values; then
//! each value below `2 << bits` has a bucket of its own, and each power of two above is
//! split into `2^bits` buckets of equal width.

use crate::{expect_integer, AggregationDef, CheckResult};
use probe_compiler::ir::{AluOp, CmpOp, Inst, Operand, Terminator, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "@map[key] = hist(int[, bits])";

/// The aggregation.
pub const HIST: AggregationDef = AggregationDef {
    name: "hist",
    signature: SIGNATURE,
    doc: "counts values in power-of-two buckets, each split in 2^bits (bits 0 to 5, default 0)",
    check,
    lower,
    format,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let bits = match args {
        [_, bits] => {
            let value = match bits.kind {
                ExprKind::Int(v) if v <= 5 => Some(v as u8),
                _ => None,
            };
            value.ok_or_else(|| {
                Diagnostic::error(bits.span, "hist()'s second argument must be 0 to 5")
                    .with_label("not an integer literal from 0 to 5")
                    .with_note(
                        "it is the number of bits of sub-buckets per power of two: `hist(x, 2)`",
                    )
            })?
        }
        _ => 0,
    };
    let first = args.get(..1).filter(|_| args.len() <= 2).unwrap_or(args);
    expect_integer(name, first, span, SIGNATURE)?;
    Ok(Type::Agg(Aggregation::Hist { bits }))
}

fn lower(agg: Aggregation, args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let Aggregation::Hist { bits } = agg else {
        unreachable!("hist lowers hist")
    };
    let k = i64::from(bits);
    let x = cx.scalar(&args[0])?;
    let index = cx.copy(Operand::Imm(0));
    let small = cx.new_block();
    let nonnegative = cx.new_block();
    let large = cx.new_block();
    let count = cx.new_block();
    // Negative values stay in bucket 0.
    cx.terminate(Terminator::Branch {
        cond: CmpOp::SLt,
        lhs: x,
        rhs: Operand::Imm(0),
        then: count,
        otherwise: nonnegative,
    });
    cx.switch_to(nonnegative);
    cx.terminate(Terminator::Branch {
        cond: CmpOp::Lt,
        lhs: x,
        rhs: Operand::Imm(1 << k),
        then: small,
        otherwise: large,
    });
    // Below 2^bits: one bucket per value.
    cx.switch_to(small);
    cx.emit(Inst::Alu {
        op: AluOp::Add,
        dst: index,
        lhs: x,
        rhs: Operand::Imm(1),
    });
    cx.terminate(Terminator::Jump(count));
    // Above: the power of two `p` by binary search, then the top `bits` bits below it.
    cx.switch_to(large);
    let rest = cx.copy(Operand::Reg(x));
    let power = cx.copy(Operand::Imm(0));
    for step in [32, 16, 8, 4, 2, 1] {
        let high = cx.alu(AluOp::Rsh, rest, Operand::Imm(step));
        let shift = cx.new_block();
        let next = cx.new_block();
        cx.branch_if_zero(high, next, shift);
        cx.switch_to(shift);
        cx.emit(Inst::Copy {
            dst: rest,
            src: Operand::Reg(high),
        });
        cx.emit(Inst::Alu {
            op: AluOp::Add,
            dst: power,
            lhs: power,
            rhs: Operand::Imm(step),
        });
        cx.terminate(Terminator::Jump(next));
        cx.switch_to(next);
    }
    // index = ((p - bits + 1) << bits | (x >> (p - bits)) & (2^bits - 1)) + 1
    let width = cx.alu(AluOp::Sub, power, Operand::Imm(k));
    let group = cx.alu(AluOp::Add, width, Operand::Imm(1));
    let group = cx.alu(AluOp::Lsh, group, Operand::Imm(k));
    let sub = cx.alu(AluOp::Rsh, x, Operand::Reg(width));
    let sub = cx.alu(AluOp::And, sub, Operand::Imm((1 << k) - 1));
    let j = cx.alu(AluOp::Or, group, Operand::Reg(sub));
    cx.emit(Inst::Alu {
        op: AluOp::Add,
        dst: index,
        lhs: j,
        rhs: Operand::Imm(1),
    });
    cx.terminate(Terminator::Jump(count));
    cx.switch_to(count);
    crate::lhist::count_in_bucket(cx, value, index, agg.buckets());
    Ok(())
}

/// The lower bound of bucket `index` (at least `2^bits`) of a log2 histogram.
fn start(index: u64, bits: u8) -> i128 {
    let n = 1u64 << bits;
    let interval = index & (n - 1);
    let power = (index >> bits) - 1;
    (1i128 << power) * i128::from(n + interval)
}

/// The label of the lower bound of bucket `index` (at least `2^bits`) of a log2
/// histogram: powers of 1024 become K, M, G, T, P, E.
fn bound(index: u64, bits: u8) -> String {
    let n = 1u64 << bits;
    let interval = index & (n - 1);
    let power = (index >> bits) - 1;
    let decade = power / 10;
    let mantissa = (1u64 << (power % 10)) * (n + interval);
    match b" KMGTPE".get(decade as usize) {
        Some(b' ') | None => mantissa.to_string(),
        Some(&suffix) => format!("{mantissa}{}", suffix as char),
    }
}

fn format(agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let Aggregation::Hist { bits } = agg else {
        unreachable!("hist formats hist")
    };
    let counts = crate::lhist::merge(per_cpu, agg.buckets());
    let label = |i: usize| {
        let i = i as u64;
        if i == 0 {
            "(..., 0)".to_string()
        } else if i <= 2 << bits {
            format!("[{}]", i - 1)
        } else {
            format!("[{}, {})", bound(i - 1, bits), bound(i, bits))
        }
    };
    let range = |i: usize| {
        let i = i as u64;
        if i == 0 {
            (None, Some(-1))
        } else if i <= 2 << bits {
            (Some(i128::from(i) - 1), Some(i128::from(i) - 1))
        } else {
            (Some(start(i - 1, bits)), Some(start(i, bits) - 1))
        }
    };
    crate::lhist::render(&counts, div, label, range)
}
