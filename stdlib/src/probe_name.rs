//! `probe`, the attach point a program serves (`tracepoint:syscalls:sys_enter_read`), and
//! `func`, the function a kprobe, fentry or uprobe program traces: constants of each
//! program, since each place a probe attaches gets its own program.

use crate::Variable;
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::types::Type;
use probe_lang::AttachKind;

/// The variable `probe`.
pub const PROBE: Variable = Variable {
    name: "probe",
    doc: "the attach point this program serves, e.g. tracepoint:syscalls:sys_enter_read",
    ty: |kind| Type::Str {
        len: kind.text().len() as u32 + 1,
    },
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| {
        let text = cx.attach().text();
        cx.string_constant(&text)
    },
};

/// The traced function's name, for the kinds that trace one.
fn function(kind: &AttachKind) -> Option<&str> {
    match kind {
        AttachKind::Kprobe { function, .. }
        | AttachKind::Fentry { function, .. }
        | AttachKind::Uprobe { function, .. } => Some(function),
        _ => None,
    }
}

/// The variable `func`.
pub const FUNC: Variable = Variable {
    name: "func",
    doc: "the name of the function a kprobe, fentry or uprobe traces",
    ty: |kind| Type::Str {
        len: function(kind).map_or(1, |f| f.len() as u32 + 1),
    },
    available: |kind| match function(kind) {
        Some(_) => Ok(()),
        None => Err("only kprobe, fentry and uprobe probes trace a function".into()),
    },
    reads_context: false,
    lower: lower_func,
};

fn lower_func(cx: &mut LowerCx) -> Value {
    let name = function(cx.attach()).unwrap_or_default().to_string();
    cx.string_constant(&name)
}
