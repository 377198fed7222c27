//! `strcontains(haystack, needle)`: whether a string contains a literal string, and
//! `strstr(haystack, needle)`: where it first does (-1 if it does not).

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{CmpOp, Inst, MemSize, Operand, Terminator};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

const SIGNATURE: &str = "strcontains(str, \"literal\")";

/// The function.
pub const STRCONTAINS: Function = Function {
    name: "strcontains",
    signature: SIGNATURE,
    doc: "true when the string contains the literal string",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signature = format!("{}(str, \"literal\")", name.name);
    crate::expect_args(name, args, span, 2, &signature)?;
    crate::expect_string(name, &args[0], &signature)?;
    if !matches!(args[1].kind, ExprKind::Str(_)) {
        return Err(crate::not_supported_yet(
            args[1].span,
            &format!("{}() with a needle that is not a string literal", name.name),
        ));
    }
    Ok(Type::Bool)
}

/// The function `strstr`.
pub const STRSTR: Function = Function {
    name: "strstr",
    signature: "strstr(str, \"literal\")",
    doc: "the index where the literal string first occurs in the string, or -1",
    check: |name, args, span| {
        check(name, args, span)?;
        Ok(Type::I64)
    },
    lower: |_, args, _, cx| search(args, cx, false),
};

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    search(args, cx, true)
}

/// Tries each start in the haystack (until its NUL) and compares the needle's bytes
/// there; the result is whether it was found, or where (-1 if not).
fn search(args: &[Expr], cx: &mut LowerCx, found_only: bool) -> LowerResult {
    let Value::Mem { addr, len } = cx.expr(&args[0])? else {
        unreachable!("strings live in memory")
    };
    let ExprKind::Str(needle) = &args[1].kind else {
        unreachable!("checked")
    };
    let needle = needle.as_bytes();
    let needle = &needle[..needle.iter().position(|&b| b == 0).unwrap_or(needle.len())];
    let result = cx.copy(Operand::Imm(if found_only { 1 } else { 0 }));
    let done = cx.new_block();
    let absent = cx.new_block();
    let last_start = (len as usize).saturating_sub(1 + needle.len());
    if needle.is_empty() {
        cx.terminate(Terminator::Jump(done));
    } else {
        for start in 0..=last_start {
            let next_start = cx.new_block();
            if !found_only {
                cx.emit(Inst::Copy {
                    dst: result,
                    src: Operand::Imm(start as i64),
                });
            }
            for (j, &want) in needle.iter().enumerate() {
                let byte = cx.vreg();
                cx.emit(Inst::Load {
                    dst: byte,
                    addr: addr.offset((start + j) as i32),
                    size: MemSize::B,
                    signed: false,
                });
                if j == 0 {
                    // The haystack ended before this start.
                    let go_on = cx.new_block();
                    cx.branch_if_zero(byte, absent, go_on);
                    cx.switch_to(go_on);
                }
                let same = cx.new_block();
                cx.terminate(Terminator::Branch {
                    cond: CmpOp::Ne,
                    lhs: byte,
                    rhs: Operand::Imm(i64::from(want)),
                    then: next_start,
                    otherwise: same,
                });
                cx.switch_to(same);
            }
            cx.terminate(Terminator::Jump(done));
            cx.switch_to(next_start);
        }
        cx.terminate(Terminator::Jump(absent));
    }
    cx.switch_to(absent);
    cx.emit(Inst::Copy {
        dst: result,
        src: Operand::Imm(if found_only { 0 } else { -1 }),
    });
    cx.terminate(Terminator::Jump(done));
    cx.switch_to(done);
    Ok(Some(Value::Scalar(result)))
}
