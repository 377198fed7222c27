//! `lhist(x, min, max, step)`: a linear histogram: one bucket per `step` from `min` to
//! `max`, one for the values below `min` and one for those from `max` up. Also the
//! bucket counting and the rendering that `hist` shares.

use crate::{expect_integer, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, AluOp, CmpOp, Inst, Operand, Terminator, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, ExprKind, Ident, UnaryOp};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "@map[key] = lhist(int, min, max, step)";

/// The aggregation.
pub const LHIST: AggregationDef = AggregationDef {
    name: "lhist",
    signature: SIGNATURE,
    doc: "counts values in buckets `step` wide from `min` to `max` (integer literals)",
    check,
    lower,
    format,
};

/// The value of an integer literal, negated or not.
fn literal(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(v) => i64::try_from(*v).ok(),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => literal(expr).map(|v| -v),
        _ => None,
    }
}

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    if args.len() != 4 {
        return Err(Diagnostic::error(
            span,
            format!("lhist() takes 4 arguments, {} given", args.len()),
        )
        .with_label("in this call")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    expect_integer(name, &args[..1], span, SIGNATURE)?;
    let mut bounds = [0i64; 3];
    for (b, a) in bounds.iter_mut().zip(&args[1..]) {
        *b = literal(a).ok_or_else(|| {
            Diagnostic::error(a.span, "lhist()'s bounds must be integer literals")
                .with_label("not an integer literal")
                .with_note(format!("usage: {SIGNATURE}"))
        })?;
    }
    let [min, max, step] = bounds;
    let problem = if step <= 0 {
        Some((args[3].span, "the step must be positive"))
    } else if max <= min {
        Some((args[2].span, "max must be greater than min"))
    } else if (max - min) / step > 1000 {
        Some((args[3].span, "more than 1000 buckets"))
    } else {
        None
    };
    if let Some((at, why)) = problem {
        return Err(Diagnostic::error(at, format!("lhist(): {why}"))
            .with_label("here")
            .with_note("lhist(x, min, max, step) needs min < max, step > 0 and at most 1000 steps from min to max"));
    }
    Ok(Type::Agg(Aggregation::Lhist { min, max, step }))
}

fn lower(agg: Aggregation, args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let Aggregation::Lhist { min, max, step } = agg else {
        unreachable!("lhist lowers lhist")
    };
    let x = cx.scalar(&args[0])?;
    let top = agg.buckets() as i64 - 1;
    let index = cx.copy(Operand::Imm(0));
    let not_below = cx.new_block();
    let inside = cx.new_block();
    let above = cx.new_block();
    let count = cx.new_block();
    let limit = |cx: &mut LowerCx, v: i64| cx.copy(Operand::Imm(v));
    let lo = limit(cx, min);
    cx.terminate(Terminator::Branch {
        cond: CmpOp::SLt,
        lhs: x,
        rhs: Operand::Reg(lo),
        then: count,
        otherwise: not_below,
    });
    cx.switch_to(not_below);
    let hi = limit(cx, max);
    cx.terminate(Terminator::Branch {
        cond: CmpOp::SGe,
        lhs: x,
        rhs: Operand::Reg(hi),
        then: above,
        otherwise: inside,
    });
    cx.switch_to(above);
    cx.emit(Inst::Copy {
        dst: index,
        src: Operand::Imm(top),
    });
    cx.terminate(Terminator::Jump(count));
    cx.switch_to(inside);
    let from_min = cx.alu(AluOp::Sub, x, Operand::Reg(lo));
    let steps = cx.alu(AluOp::Div, from_min, Operand::Imm(step));
    cx.emit(Inst::Alu {
        op: AluOp::Add,
        dst: index,
        lhs: steps,
        rhs: Operand::Imm(1),
    });
    cx.terminate(Terminator::Jump(count));
    cx.switch_to(count);
    count_in_bucket(cx, value, index, agg.buckets());
    Ok(())
}

/// Adds one to bucket `index` of the histogram at `value`; the index is clamped to the
/// last of `buckets`, which the verifier needs to see.
pub(crate) fn count_in_bucket(cx: &mut LowerCx, value: VReg, index: VReg, buckets: u32) {
    let last = i64::from(buckets) - 1;
    let clamp = cx.new_block();
    let add = cx.new_block();
    cx.terminate(Terminator::Branch {
        cond: CmpOp::Gt,
        lhs: index,
        rhs: Operand::Imm(last),
        then: clamp,
        otherwise: add,
    });
    cx.switch_to(clamp);
    cx.emit(Inst::Copy {
        dst: index,
        src: Operand::Imm(last),
    });
    cx.terminate(Terminator::Jump(add));
    cx.switch_to(add);
    let offset = cx.alu(AluOp::Lsh, index, Operand::Imm(3));
    let bucket = cx.alu(AluOp::Add, value, Operand::Reg(offset));
    crate::count::add_to(
        cx,
        Addr::Reg {
            base: bucket,
            off: 0,
        },
        Operand::Imm(1),
    );
}

/// Sums the per-CPU counts of each of `buckets`.
pub(crate) fn merge(per_cpu: &[&[u8]], buckets: u32) -> Vec<u64> {
    (0..buckets as usize)
        .map(|i| {
            per_cpu
                .iter()
                .map(|v| read_u64(v.get(i * 8..).unwrap_or(&[])))
                .fold(0u64, u64::wrapping_add)
        })
        .collect()
}

/// The values a bucket holds, from `min` to `max` inclusive (`None`: unbounded).
pub(crate) type Range = (Option<i128>, Option<i128>);

/// Renders the buckets from the first to the last that counted something, as bpftrace
/// does: the label in 16 columns, the count (divided by `div`) in 8, and a bar of up to
/// 52 `@`s scaled to the largest count; in JSON, each bucket's range and count. The
/// entries of a map are ordered by their total.
pub(crate) fn render(
    counts: &[u64],
    div: u64,
    label: impl Fn(usize) -> String,
    range: impl Fn(usize) -> Range,
) -> RenderedAggregation {
    let total: u64 = counts.iter().fold(0, |a, b| a.wrapping_add(*b));
    let first = counts.iter().position(|&c| c != 0);
    let last = counts.iter().rposition(|&c| c != 0);
    let largest = counts.iter().copied().max().unwrap_or(0);
    let mut text = String::new();
    let mut json = vec![];
    if let (Some(first), Some(last)) = (first, last) {
        for (i, &c) in counts.iter().enumerate().take(last + 1).skip(first) {
            let (lo, hi) = range(i);
            let mut fields: Vec<String> = vec![];
            fields.extend(lo.map(|v| format!("\"min\": {v}")));
            fields.extend(hi.map(|v| format!("\"max\": {v}")));
            fields.push(format!("\"count\": {}", c / div.max(1)));
            json.push(format!("{{{}}}", fields.join(", ")));
            // bpftrace scales in single precision and truncates.
            let bar = (c as f32 / largest as f32 * 52.0) as usize;
            text.push_str(&format!(
                "{:<16}{:>8} |{:<52}|\n",
                label(i),
                c / div.max(1),
                "@".repeat(bar)
            ));
        }
    }
    RenderedAggregation {
        order: i128::from(total),
        text,
        json: format!("[{}]", json.join(", ")),
        multiline: true,
    }
}

fn format(agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let Aggregation::Lhist { min, max, step } = agg else {
        unreachable!("lhist formats lhist")
    };
    let buckets = agg.buckets();
    let counts = merge(per_cpu, buckets);
    let number = |n: i64| {
        const KILO: i64 = 1024;
        const MEGA: i64 = 1024 * 1024;
        if step % KILO != 0 || n == 0 {
            n.to_string()
        } else if n % MEGA == 0 {
            format!("{}M", n / MEGA)
        } else if n % KILO == 0 {
            format!("{}K", n / KILO)
        } else {
            n.to_string()
        }
    };
    let label = |i: usize| {
        let i = i as i64;
        if i == 0 {
            format!("(..., {})", number(min))
        } else if i == i64::from(buckets) - 1 {
            format!("[{}, ...)", number(max))
        } else {
            format!(
                "[{}, {})",
                number((i - 1) * step + min),
                number(i * step + min)
            )
        }
    };
    let range = |i: usize| {
        let (i, min, max, step) = (
            i as i128,
            i128::from(min),
            i128::from(max),
            i128::from(step),
        );
        if i == 0 {
            (None, Some(min - 1))
        } else if i == i128::from(buckets) - 1 {
            (Some(max), None)
        } else {
            (Some((i - 1) * step + min), Some(i * step + min - 1))
        }
    };
    // bpftrace does not divide linear histograms.
    let _ = div;
    render(&counts, 1, label, range)
}
