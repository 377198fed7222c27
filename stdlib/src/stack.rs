//! `kstack` and `ustack`: the kernel or user stack of the current task, taken into the
//! stack map with `bpf_get_stackid` and symbolised by the runtime when printed.
//! `kstack(mode, limit)`, `kstack(limit)` and `kstack(mode)` choose how it is printed.

use crate::{CheckResult, Function, LowerResult, Variable};
use probe_compiler::ir::Operand;
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::{Printed, StackMode, Type, MAX_STACK_FRAMES};
use probe_lang::{Diagnostic, Span};

/// `bpf_get_stackid`'s flag for the user stack.
const USER_STACK: i64 = 1 << 8;

const KSTACK_SIGNATURE: &str = "kstack or kstack([bpftrace|perf|raw][, limit])";
const USTACK_SIGNATURE: &str = "ustack or ustack([bpftrace|perf|raw][, limit])";

fn stack(user: bool) -> Type {
    Type::Printed(Printed::Stack {
        user,
        mode: StackMode::Bpftrace,
        limit: MAX_STACK_FRAMES,
    })
}

/// The variable `kstack`.
pub const KSTACK: Variable = Variable {
    name: "kstack",
    doc: "the kernel stack, symbolised when printed",
    ty: |_| stack(false),
    available: crate::anywhere,
    reads_context: true,
    lower: |cx| take(cx, false),
};

/// The variable `ustack`.
pub const USTACK: Variable = Variable {
    name: "ustack",
    doc: "the user stack, symbolised when printed (while the process lives)",
    ty: |_| stack(true),
    available: crate::anywhere,
    reads_context: true,
    lower: |cx| take(cx, true),
};

/// The function `kstack(mode, limit)`.
pub const KSTACK_CALL: Function = Function {
    name: "kstack",
    signature: KSTACK_SIGNATURE,
    doc: "the kernel stack, printed in a mode (bpftrace, perf, raw) and at most limit frames deep",
    check: |name, args, span| check(name, args, span, false),
    lower: |_, _, _, cx| Ok(Some(take(cx, false))),
};

/// The function `ustack(mode, limit)`.
pub const USTACK_CALL: Function = Function {
    name: "ustack",
    signature: USTACK_SIGNATURE,
    doc: "the user stack, printed in a mode (bpftrace, perf, raw) and at most limit frames deep",
    check: |name, args, span| check(name, args, span, true),
    lower: |_, _, _, cx| Ok(Some(take(cx, true))),
};

fn check(name: &Ident, args: &[Expr], span: Span, user: bool) -> CheckResult {
    let signature = if user {
        USTACK_SIGNATURE
    } else {
        KSTACK_SIGNATURE
    };
    let mut mode = StackMode::Bpftrace;
    let mut limit = MAX_STACK_FRAMES;
    let bad = |e: &Expr, what: &str| {
        Diagnostic::error(e.span, format!("{}(): {what}", name.name))
            .with_label("here")
            .with_note(format!("usage: {signature}"))
    };
    if args.len() > 2 {
        return Err(
            Diagnostic::error(span, format!("{}() takes at most 2 arguments", name.name))
                .with_label("in this call")
                .with_note(format!("usage: {signature}")),
        );
    }
    for (i, a) in args.iter().enumerate() {
        match &a.kind {
            ExprKind::Builtin(word) | ExprKind::Var(word) if i == 0 => {
                mode = StackMode::from_name(&word.name)
                    .ok_or_else(|| bad(a, "the mode is bpftrace, perf or raw"))?;
            }
            ExprKind::Int(n) if i == args.len() - 1 => {
                limit = u8::try_from(*n)
                    .ok()
                    .filter(|n| (1..=MAX_STACK_FRAMES).contains(n))
                    .ok_or_else(|| bad(a, "the limit is 1 to 127 frames"))?;
            }
            _ => {
                return Err(bad(
                    a,
                    "expected a mode (bpftrace, perf, raw) or a frame limit",
                ))
            }
        }
    }
    Ok(Type::Printed(Printed::Stack { user, mode, limit }))
}

/// Takes the stack into the stack map; the value is its id and, for a user stack, the
/// process id (which the runtime needs to find the symbols).
fn take(cx: &mut LowerCx, user: bool) -> Value {
    let map = cx.stack_map();
    let map = cx.map_ref(map);
    let flags = if user { USER_STACK } else { 0 };
    let ctx = cx.ctx;
    let id = cx.call(
        helper::GET_STACKID,
        vec![Operand::Reg(ctx), Operand::Reg(map), Operand::Imm(flags)],
    );
    let pid = if user {
        crate::current_pid(cx)
    } else {
        Operand::Imm(0)
    };
    crate::printed_words(cx, Operand::Reg(id), pid)
}

/// Checks `ksym(addr)` / `usym(addr)`.
fn check_symbol(name: &Ident, args: &[Expr], span: Span, user: bool) -> CheckResult {
    let signature = if user { "usym(addr)" } else { "ksym(addr)" };
    crate::expect_args(name, args, span, 1, signature)?;
    if !args[0].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[0].span,
            format!("{}() takes an address, not {}", name.name, args[0].ty),
        )
        .with_label("not an address")
        .with_note(format!("usage: {signature}")));
    }
    Ok(Type::Printed(Printed::Symbol { user }))
}

/// The address, and for a user address the process id.
fn symbol(args: &[Expr], cx: &mut LowerCx, user: bool) -> LowerResult {
    let addr = cx.scalar(&args[0])?;
    let pid = if user {
        crate::current_pid(cx)
    } else {
        Operand::Imm(0)
    };
    Ok(Some(crate::printed_words(cx, Operand::Reg(addr), pid)))
}

/// The function `ksym(addr)`.
pub const KSYM: Function = Function {
    name: "ksym",
    signature: "ksym(addr)",
    doc: "prints a kernel address as the symbol it falls in (0x... if none)",
    check: |name, args, span| check_symbol(name, args, span, false),
    lower: |_, args, _, cx| symbol(args, cx, false),
};

/// The function `usym(addr)`.
pub const USYM: Function = Function {
    name: "usym",
    signature: "usym(addr)",
    doc: "prints a user address of the current process as the symbol it falls in (0x... if none)",
    check: |name, args, span| check_symbol(name, args, span, true),
    lower: |_, args, _, cx| symbol(args, cx, true),
};
