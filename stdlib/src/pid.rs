//! `pid`: the process (thread group) id of the current task.

use crate::Variable;
use probe_compiler::ir::{AluOp, Operand};
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// The variable.
pub const PID: Variable = Variable {
    name: "pid",
    doc: "process id (thread group id) of the current task",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    let both = cx.call(helper::GET_CURRENT_PID_TGID, vec![]);
    Value::Scalar(cx.alu(AluOp::Rsh, both, Operand::Imm(32)))
}
