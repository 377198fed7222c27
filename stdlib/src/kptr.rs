//! `kptr(p)` and `uptr(p)`: say that a pointer points into kernel or user memory. probe
//! reads through pointers with the generic read, which reaches both, so the value passes
//! through unchanged.

use crate::{expect_args, Function};
use probe_compiler::lower::Value;
use probe_lang::Diagnostic;

fn check(
    name: &probe_lang::ast::Ident,
    args: &[probe_lang::ast::Expr],
    span: probe_lang::Span,
) -> crate::CheckResult {
    let signature = format!("{}(ptr)", name.name);
    expect_args(name, args, span, 1, &signature)?;
    if !args[0].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[0].span,
            format!(
                "{}() takes a pointer or an address, not {}",
                name.name, args[0].ty
            ),
        )
        .with_label("not a pointer")
        .with_note(format!("usage: {signature}")));
    }
    Ok(args[0].ty.clone())
}

/// The function `kptr`.
pub const KPTR: Function = Function {
    name: "kptr",
    signature: "kptr(ptr)",
    doc: "marks a pointer as pointing into kernel memory (the value is unchanged)",
    check,
    lower: |_, args, _, cx| Ok(Some(Value::Scalar(cx.scalar(&args[0])?))),
};

/// The function `uptr`.
pub const UPTR: Function = Function {
    name: "uptr",
    signature: "uptr(ptr)",
    doc: "marks a pointer as pointing into user memory (the value is unchanged)",
    check,
    lower: |_, args, _, cx| Ok(Some(Value::Scalar(cx.scalar(&args[0])?))),
};
