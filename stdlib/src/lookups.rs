//! Lookups done when the script is compiled, on the machine that runs it:
//! `kaddr("symbol")`, a kernel symbol's address from `/proc/kallsyms`, and
//! `cgroupid("/sys/fs/cgroup/...")`, a cgroup v2 directory's id (its inode number).

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::ir::Operand;
use probe_compiler::lower::Value;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

/// Checks a call with one string literal argument.
fn check_literal(name: &Ident, args: &[Expr], span: Span, signature: &str) -> CheckResult {
    expect_args(name, args, span, 1, signature)?;
    match args[0].kind {
        ExprKind::Str(_) => Ok(Type::U64),
        _ => Err(Diagnostic::error(
            args[0].span,
            format!("{}() takes a string literal", name.name),
        )
        .with_label("not a string literal")
        .with_note(format!("usage: {signature}"))),
    }
}

fn literal(args: &[Expr]) -> &str {
    match &args[0].kind {
        ExprKind::Str(s) => s,
        _ => unreachable!("checked"),
    }
}

/// The function `kaddr`.
pub const KADDR: Function = Function {
    name: "kaddr",
    signature: "kaddr(\"symbol\")",
    doc: "the address of a kernel symbol (from /proc/kallsyms when the script is compiled)",
    check: |name, args, span| check_literal(name, args, span, "kaddr(\"symbol\")"),
    lower: |_, args, _, cx| -> LowerResult {
        let symbol = literal(args);
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let addr = kallsyms.lines().find_map(|l| {
            let mut f = l.split_whitespace();
            let addr = f.next()?;
            (f.nth(1)? == symbol).then(|| u64::from_str_radix(addr, 16).ok())?
        });
        let addr = addr.filter(|a| *a != 0).ok_or_else(|| {
            Diagnostic::error(args[0].span, format!("no kernel symbol `{symbol}`"))
                .with_label("not in /proc/kallsyms")
                .with_note("kernel symbols are listed in /proc/kallsyms (as root)")
        })?;
        Ok(Some(Value::Scalar(cx.copy(Operand::Imm(addr as i64)))))
    },
};

/// The function `cgroupid`.
pub const CGROUPID: Function = Function {
    name: "cgroupid",
    signature: "cgroupid(\"/sys/fs/cgroup/path\")",
    doc: "the id of a cgroup v2 directory, as `cgroup` reads it (looked up when compiled)",
    check: |name, args, span| check_literal(name, args, span, "cgroupid(\"/sys/fs/cgroup/path\")"),
    lower: |_, args, _, cx| -> LowerResult {
        use std::os::unix::fs::MetadataExt;
        let path = literal(args);
        let id = std::fs::metadata(path).map(|m| m.ino()).map_err(|e| {
            Diagnostic::error(args[0].span, format!("cannot read the cgroup {path}: {e}"))
                .with_label("no such cgroup")
                .with_note("give the cgroup's directory under /sys/fs/cgroup")
        })?;
        Ok(Some(Value::Scalar(cx.copy(Operand::Imm(id as i64)))))
    },
};
