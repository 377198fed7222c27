//! `str(ptr)` / `str(ptr, len)`: the NUL-terminated string at an address (a `char *`
//! tracepoint argument, say), read with `bpf_probe_read_str`. `str($1)` is a positional
//! parameter's text, handled before checking.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{Addr, Operand};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::config::MAX_STRLEN_LIMIT;
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

/// Bytes a string holds by default, NUL included (bpftrace's default `max_strlen`).
pub const MAX_STRLEN: u32 = 64;

/// `bpf_probe_read_str`: reads from kernel or user memory on this architecture.
const PROBE_READ_STR: u32 = 45;

/// The function.
pub const STR: Function = Function {
    name: "str",
    signature: "str(ptr) or str(ptr, len)",
    doc: "reads the NUL-terminated string at ptr (64 bytes at most, or len)",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    if !(1..=2).contains(&args.len()) {
        return Err(Diagnostic::error(
            span,
            format!(
                "{}() takes 1 or 2 arguments, {} given",
                name.name,
                args.len()
            ),
        )
        .with_label("in this call")
        .with_note(format!("usage: {}", STR.signature)));
    }
    if !args[0].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[0].span,
            format!("str() reads from an address, not from {}", args[0].ty),
        )
        .with_label("not an address"));
    }
    let len = match args.get(1) {
        None => MAX_STRLEN,
        Some(Expr {
            kind: ExprKind::Int(n),
            ..
        }) if (1..MAX_STRLEN_LIMIT).contains(n) => *n as u32 + 1,
        Some(e) => {
            return Err(Diagnostic::error(
                e.span,
                format!(
                    "the length must be a number from 1 to {}",
                    MAX_STRLEN_LIMIT - 1
                ),
            )
            .with_label("not a literal length in range"))
        }
    };
    Ok(Type::Str { len })
}

fn lower(_: &Ident, args: &[Expr], span: Span, cx: &mut LowerCx) -> LowerResult {
    let Type::Str { len } = check(
        &Ident {
            name: "str".into(),
            span,
        },
        args,
        span,
    )?
    else {
        unreachable!("a string")
    };
    let ptr = cx.scalar(&args[0])?;
    let slot = cx.zeroed_slot(len);
    let buf = cx.stack_addr(slot, 0);
    cx.call(
        PROBE_READ_STR,
        vec![
            Operand::Reg(buf),
            Operand::Imm(i64::from(len)),
            Operand::Reg(ptr),
        ],
    );
    Ok(Some(Value::Mem {
        addr: Addr::Stack { slot, off: 0 },
        len,
    }))
}
