//! `ctx`: the program's context, for the probes whose context is a kernel struct the script
//! reads (`iter:task`: `ctx->task->pid`).

use crate::Variable;
use probe_compiler::ir::Operand;
use probe_compiler::lower::Value;
use probe_lang::types::Type;
use probe_lang::AttachKind;

/// The variable.
pub const CTX: Variable = Variable {
    name: "ctx",
    doc: "the program's context: struct bpf_iter__<target> * in iter probes (ctx->task)",
    ty: |kind| match kind {
        AttachKind::Iter { target } => {
            Type::Ptr(Box::new(Type::Struct(format!("bpf_iter__{target}"))))
        }
        _ => Type::U64,
    },
    available: |kind| match kind {
        AttachKind::Iter { .. } => Ok(()),
        _ => Err("only iter probes have `ctx` (tracepoints have `args`, kprobes `arg0`...)".into()),
    },
    reads_context: true,
    lower: |cx| {
        let ctx = cx.ctx;
        Value::Scalar(cx.copy(Operand::Reg(ctx)))
    },
};
