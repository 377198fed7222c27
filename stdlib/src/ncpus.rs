//! `ncpus`: the number of CPUs.

use crate::Variable;
use probe_compiler::lower::Value;
use probe_compiler::program::SessionValue;
use probe_lang::types::Type;

/// The variable.
pub const NCPUS: Variable = Variable {
    name: "ncpus",
    doc: "number of CPUs the kernel can run (possible CPUs)",
    ty: |_| Type::U64,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| Value::Scalar(cx.session_value(SessionValue::Cpus)),
};
