//! `curtask`: the kernel's `struct task_struct` of the current task.

use crate::Variable;
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// The variable.
pub const CURTASK: Variable = Variable {
    name: "curtask",
    doc: "pointer to the current task's struct task_struct (read its fields: curtask->pid)",
    ty: |_| Type::Ptr(Box::new(Type::Struct("task_struct".into()))),
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    Value::Scalar(cx.call(helper::GET_CURRENT_TASK, vec![]))
}
