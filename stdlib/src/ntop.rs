//! `ntop([family,] addr)`: an IPv4 or IPv6 address, printed as inet_ntop(3) writes it.
//! `addr` is a 32-bit integer (IPv4, in network byte order as it is in memory) or an array
//! of 4 or 16 bytes; without `family`, the size says which.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{Addr, Inst, MemSize, Operand};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Printed, Type};
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "ntop([af, ]addr)";
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

/// The function.
pub const NTOP: Function = Function {
    name: "ntop",
    signature: SIGNATURE,
    doc: "an IPv4 or IPv6 address (an integer or a 4- or 16-byte array), printed as text",
    check,
    lower,
};

/// The bytes of an address argument: 4 or 16.
fn address_bytes(e: &Expr) -> Option<u32> {
    match &e.ty {
        Type::Int { .. } => Some(4),
        Type::Array { elem, len } if elem.size() == 1 && (*len == 4 || *len == 16) => Some(*len),
        _ => None,
    }
}

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let (family, addr) = match args {
        [addr] => (None, addr),
        [family, addr] => (Some(family), addr),
        _ => return crate::expect_args(name, args, span, 1, SIGNATURE).map(|()| Type::Void),
    };
    if let Some(f) = family.filter(|f| !f.ty.is_scalar()) {
        return Err(
            Diagnostic::error(f.span, "the address family must be an integer")
                .with_label("not an integer")
                .with_note("AF_INET is 2, AF_INET6 is 10"),
        );
    }
    if address_bytes(addr).is_none() {
        return Err(Diagnostic::error(
            addr.span,
            format!(
                "ntop() takes an integer or an array of 4 or 16 bytes, not {}",
                addr.ty
            ),
        )
        .with_label("not an address")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    Ok(Type::Printed(Printed::Inet))
}

/// The value: the family, then the address's bytes.
fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let addr_arg = args.last().expect("checked");
    let bytes = address_bytes(addr_arg).expect("checked");
    let slot = cx.zeroed_slot(24);
    let family = match args {
        [family, _] => Operand::Reg(cx.scalar(family)?),
        _ if bytes == 16 => Operand::Imm(AF_INET6),
        _ => Operand::Imm(AF_INET),
    };
    cx.emit(Inst::Store {
        addr: Addr::Stack { slot, off: 0 },
        src: family,
        size: MemSize::DW,
    });
    let at = Addr::Stack { slot, off: 8 };
    match cx.expr(addr_arg)? {
        Value::Scalar(v) => cx.emit(Inst::Store {
            addr: at,
            src: Operand::Reg(v),
            size: MemSize::W,
        }),
        Value::Mem { addr, len } => cx.copy_mem(at, addr, len.min(16)),
    }
    Ok(Some(Value::Mem {
        addr: Addr::Stack { slot, off: 0 },
        len: 24,
    }))
}
