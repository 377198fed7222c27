//! `uid` and `gid`: the real user and group id of the current task.

use crate::Variable;
use probe_compiler::ir::{AluOp, Operand};
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// The variable `uid`.
pub const UID: Variable = Variable {
    name: "uid",
    doc: "user id of the current task",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| {
        let both = cx.call(helper::GET_CURRENT_UID_GID, vec![]);
        Value::Scalar(cx.alu(AluOp::And, both, Operand::Imm(0xffff_ffff)))
    },
};

/// The variable `gid`.
pub const GID: Variable = Variable {
    name: "gid",
    doc: "group id of the current task",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower: gid,
};

fn gid(cx: &mut LowerCx) -> Value {
    let both = cx.call(helper::GET_CURRENT_UID_GID, vec![]);
    Value::Scalar(cx.alu(AluOp::Rsh, both, Operand::Imm(32)))
}
