//! `has_key(@m, key)`: whether a map holds an element with that key.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{CmpOp, Operand, Terminator};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// The function.
pub const HAS_KEY: Function = Function {
    name: "has_key",
    signature: "has_key(@map, key)",
    doc: "true if the map holds an element with that key",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    crate::expect_map_and_key(name, args, span, HAS_KEY.signature)?;
    Ok(Type::Bool)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let (index, key) = crate::map_and_key(args, cx)?;
    let ptr = cx.lookup(index, key);
    let result = cx.vreg();
    let (found, missing, done) = (cx.new_block(), cx.new_block(), cx.new_block());
    cx.terminate(Terminator::Branch {
        cond: CmpOp::Ne,
        lhs: ptr,
        rhs: Operand::Imm(0),
        then: found,
        otherwise: missing,
    });
    for (block, value) in [(found, 1), (missing, 0)] {
        cx.switch_to(block);
        cx.emit(probe_compiler::ir::Inst::Copy {
            dst: result,
            src: Operand::Imm(value),
        });
        cx.terminate(Terminator::Jump(done));
    }
    cx.switch_to(done);
    Ok(Some(Value::Scalar(result)))
}
