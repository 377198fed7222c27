//! `comm`: the name of the current task.

use crate::Variable;
use probe_compiler::ir::{Addr, Operand};
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// Bytes of a task's name, NUL included (the kernel's TASK_COMM_LEN).
const COMM_LEN: u32 = 16;

/// The variable.
pub const COMM: Variable = Variable {
    name: "comm",
    doc: "name of the current task (16 bytes at most, as the kernel keeps it)",
    ty: |_| Type::Str { len: COMM_LEN },
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    let slot = cx.zeroed_slot(COMM_LEN);
    let buf = cx.stack_addr(slot, 0);
    cx.call(
        helper::GET_CURRENT_COMM,
        vec![Operand::Reg(buf), Operand::Imm(COMM_LEN as i64)],
    );
    Value::Mem {
        addr: Addr::Stack { slot, off: 0 },
        len: COMM_LEN,
    }
}
