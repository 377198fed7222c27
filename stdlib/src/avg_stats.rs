//! `avg(x)` and `stats(x)`: each CPU keeps a count and a total; the average is their
//! quotient, rounded toward zero.

use crate::{expect_integer, read_u64, AggregationDef, CheckResult};
use probe_compiler::ir::{Addr, Operand, VReg};
use probe_compiler::lower::LowerCx;
use probe_compiler::RenderedAggregation;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{Diagnostic, Span};

/// The aggregation `avg`.
pub const AVG: AggregationDef = AggregationDef {
    name: "avg",
    signature: "@map[key] = avg(int)",
    doc: "averages the values, per map key",
    check: check_avg,
    lower,
    format,
};

/// The aggregation `stats`.
pub const STATS: AggregationDef = AggregationDef {
    name: "stats",
    signature: "@map[key] = stats(int)",
    doc: "keeps the count, average and total of the values, per map key",
    check: check_stats,
    lower,
    format,
};

fn check_avg(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signed = expect_integer(name, args, span, "@map[key] = avg(int)")?;
    Ok(Type::Agg(Aggregation::Avg { signed }))
}

fn check_stats(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signed = expect_integer(name, args, span, "@map[key] = stats(int)")?;
    Ok(Type::Agg(Aggregation::Stats { signed }))
}

fn lower(_: Aggregation, args: &[Expr], value: VReg, cx: &mut LowerCx) -> Result<(), Diagnostic> {
    let x = cx.scalar(&args[0])?;
    crate::count::add_to(
        cx,
        Addr::Reg {
            base: value,
            off: 0,
        },
        Operand::Imm(1),
    );
    crate::count::add_to(
        cx,
        Addr::Reg {
            base: value,
            off: 8,
        },
        Operand::Reg(x),
    );
    Ok(())
}

fn format(agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
    let (signed, stats) = match agg {
        Aggregation::Avg { signed } => (signed, false),
        Aggregation::Stats { signed } => (signed, true),
        _ => unreachable!("avg_stats formats avg and stats"),
    };
    let count = per_cpu
        .iter()
        .map(|v| read_u64(v))
        .fold(0u64, u64::wrapping_add);
    let total = per_cpu
        .iter()
        .map(|v| read_u64(v.get(8..).unwrap_or(&[])))
        .fold(0u64, u64::wrapping_add);
    let total = crate::widen(total, signed);
    let average = if count == 0 {
        0
    } else {
        total / i128::from(count)
    };
    let shown = average / i128::from(div.max(1));
    let (text, json) = if stats {
        (
            format!("count {count}, average {shown}, total {total}"),
            format!("{{\"count\": {count}, \"average\": {shown}, \"total\": {total}}}"),
        )
    } else {
        (shown.to_string(), shown.to_string())
    };
    RenderedAggregation {
        order: average,
        text,
        json,
        multiline: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_totals_are_merged_across_cpus() {
        let a = [2u64.to_le_bytes(), (-9i64).to_le_bytes()].concat();
        let b = [1u64.to_le_bytes(), 2i64.to_le_bytes()].concat();
        let cpus: Vec<&[u8]> = vec![&a, &b];
        let stats = format(Aggregation::Stats { signed: true }, &cpus, 1);
        assert_eq!(stats.text, "count 3, average -2, total -7");
        assert_eq!(stats.order, -2);
        assert_eq!(
            format(Aggregation::Avg { signed: true }, &cpus, 2).text,
            "-1"
        );
    }
}
