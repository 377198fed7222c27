//! `cpu`: the CPU the probe runs on.

use crate::Variable;
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// The variable.
pub const CPU: Variable = Variable {
    name: "cpu",
    doc: "id of the CPU the probe fires on",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    Value::Scalar(cx.call(helper::GET_SMP_PROCESSOR_ID, vec![]))
}
