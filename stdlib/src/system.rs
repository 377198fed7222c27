//! Functions formatted as `printf` formats whose output userspace makes when the event
//! arrives: `system(fmt, args...)` runs a shell command (with `--unsafe`), `cat` prints a
//! file, `errorf` and `warnf` print on standard error.

use crate::printf::{check_formatted, lower_formatted};
use crate::{CheckResult, Function};
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

/// Checks a formatted function used as a statement: `name("format", args...)`.
fn check_statement(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    let signature = format!("{}(\"format\", args...)", name.name);
    check_formatted(name, args, span, &signature)?;
    Ok(Type::Void)
}

/// The function `system`.
pub const SYSTEM: Function = Function {
    name: "system",
    signature: "system(\"format\", args...)",
    doc: "runs the formatted command with /bin/sh (needs --unsafe); its output joins probe's",
    check: check_statement,
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::System { format, args })
    },
};

/// The function `errorf`.
pub const ERRORF: Function = Function {
    name: "errorf",
    signature: "errorf(\"format\", args...)",
    doc: "prints a formatted message on standard error after \"ERROR: \"",
    check: check_statement,
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::Message {
            format,
            args,
            error: true,
        })
    },
};

/// The function `warnf`.
pub const WARNF: Function = Function {
    name: "warnf",
    signature: "warnf(\"format\", args...)",
    doc: "prints a formatted message on standard error after \"WARNING: \"",
    check: check_statement,
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::Message {
            format,
            args,
            error: false,
        })
    },
};

/// The function `cat`.
pub const CAT: Function = Function {
    name: "cat",
    signature: "cat(\"format\", args...)",
    doc: "prints the contents of the file the formatted path names",
    check: check_statement,
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::Cat { format, args })
    },
};
