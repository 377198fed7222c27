//! `buf(data[, len])` and `macaddr(data)`: bytes read from memory, a string or an array,
//! printed by userspace: `buf` with non-printable bytes as `\xNN` (printf's `%r`),
//! `macaddr` as `AA:BB:CC:DD:EE:FF`.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{Addr, Inst, MemSize, Operand};
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::{Printed, Type};
use probe_lang::{Diagnostic, Span};

const BUF_SIGNATURE: &str = "buf(data[, len])";

/// The most bytes `buf` takes.
const MAX_BUF: u64 = 64;

/// The bytes `data` holds when it is a value (a string or an array), not an address.
fn held_bytes(data: &Expr) -> Option<u32> {
    match &data.ty {
        Type::Str { .. } | Type::Array { .. } => Some(data.ty.size()),
        _ => None,
    }
}

fn check_buf(_: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let usage = || format!("usage: {BUF_SIGNATURE}, len at most {MAX_BUF}");
    let (data, len) = match args {
        [data] => (data, None),
        [data, len] => (data, Some(len)),
        _ => {
            return Err(Diagnostic::error(span, "buf() takes 1 or 2 arguments")
                .with_label("in this call")
                .with_note(usage()))
        }
    };
    let held = held_bytes(data);
    if held.is_none() && !data.ty.is_scalar() {
        return Err(
            Diagnostic::error(data.span, format!("buf() cannot read {}", data.ty))
                .with_label("not an address, a string or an array")
                .with_note(usage()),
        );
    }
    let len = match len.map(|l| &l.kind) {
        Some(ExprKind::Int(n)) if (1..=MAX_BUF).contains(n) => *n as u32,
        Some(_) => {
            return Err(Diagnostic::error(
                len.expect("given").span,
                format!("buf()'s length must be an integer literal from 1 to {MAX_BUF}"),
            )
            .with_label("not a length")
            .with_note(usage()))
        }
        None => held.map(|h| h.min(MAX_BUF as u32)).ok_or_else(|| {
            Diagnostic::error(span, "buf() of an address needs a length")
                .with_label("how many bytes?")
                .with_note(usage())
        })?,
    };
    Ok(Type::Printed(Printed::Buf { len }))
}

/// Fills `len` bytes at `dst` from `data`: copied from a value, read from an address.
fn fill(cx: &mut LowerCx, data: &Expr, dst: Addr, len: u32) -> Result<(), Diagnostic> {
    match cx.expr(data)? {
        Value::Mem { addr, len: held } => cx.copy_mem(dst, addr, held.min(len)),
        Value::Scalar(ptr) => {
            let to = cx.addr_reg(dst);
            cx.call(
                helper::PROBE_READ,
                vec![
                    Operand::Reg(to),
                    Operand::Imm(i64::from(len)),
                    Operand::Reg(ptr),
                ],
            );
        }
    }
    Ok(())
}

fn lower_buf(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let Type::Printed(Printed::Buf { len }) = check_buf_type(args) else {
        unreachable!("checked")
    };
    let size = Printed::Buf { len }.size();
    let slot = cx.zeroed_slot(size);
    let n = held_bytes(&args[0]).map_or(len, |h| h.min(len));
    cx.emit(Inst::Store {
        addr: Addr::Stack { slot, off: 0 },
        src: Operand::Imm(i64::from(n)),
        size: MemSize::DW,
    });
    fill(cx, &args[0], Addr::Stack { slot, off: 8 }, n)?;
    Ok(Some(Value::Mem {
        addr: Addr::Stack { slot, off: 0 },
        len: size,
    }))
}

/// The type `check_buf` gave (the call was checked).
fn check_buf_type(args: &[Expr]) -> Type {
    let name = Ident {
        name: "buf".into(),
        span: args[0].span,
    };
    check_buf(&name, args, args[0].span).expect("checked")
}

/// The function `buf`.
pub const BUF: Function = Function {
    name: "buf",
    signature: BUF_SIGNATURE,
    doc: "bytes of a string, an array or memory (len at most 64), printed with %r: non-printable bytes as \\xNN",
    check: check_buf,
    lower: lower_buf,
};

/// The function `macaddr`.
pub const MACADDR: Function = Function {
    name: "macaddr",
    signature: "macaddr(data)",
    doc: "six bytes (an array, or memory at an address) printed as a MAC address",
    check: |name, args, span| {
        crate::expect_args(name, args, span, 1, "macaddr(data)")?;
        let ok = match &args[0].ty {
            Type::Array { .. } => args[0].ty.size() == 6,
            t => t.is_scalar(),
        };
        if !ok {
            return Err(Diagnostic::error(
                args[0].span,
                format!("macaddr() takes 6 bytes, not {}", args[0].ty),
            )
            .with_label("not a 6-byte array or an address")
            .with_note("usage: macaddr(data)"));
        }
        Ok(Type::Printed(Printed::Mac))
    },
    lower: |_, args, _, cx| {
        let slot = cx.zeroed_slot(16);
        fill(cx, &args[0], Addr::Stack { slot, off: 0 }, 6)?;
        Ok(Some(Value::Mem {
            addr: Addr::Stack { slot, off: 0 },
            len: 16,
        }))
    },
};
