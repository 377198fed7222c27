//! Functions formatted as `printf` formats whose output userspace makes when the event
//! arrives: `system(fmt, args...)` runs a shell command (with `--unsafe`), `cat` prints a
//! file, `errorf` and `warnf` print on standard error.

use crate::printf::{check_formatted, lower_formatted};
use crate::Function;
use probe_compiler::EventKind;
use probe_lang::types::Type;

/// The function `system`.
pub const SYSTEM: Function = Function {
    name: "system",
    signature: "system(\"format\", args...)",
    doc: "runs the formatted command with /bin/sh (needs --unsafe); its output joins probe's",
    check: |name, args, span| {
        check_formatted(name, args, span, "system(\"format\", args...)")?;
        Ok(Type::Void)
    },
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::System { format, args })
    },
};

/// The function `errorf`.
pub const ERRORF: Function = Function {
    name: "errorf",
    signature: "errorf(\"format\", args...)",
    doc: "prints a formatted message on standard error after \"ERROR: \"",
    check: |name, args, span| {
        check_formatted(name, args, span, "errorf(\"format\", args...)")?;
        Ok(Type::Void)
    },
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
    check: |name, args, span| {
        check_formatted(name, args, span, "warnf(\"format\", args...)")?;
        Ok(Type::Void)
    },
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
    check: |name, args, span| {
        check_formatted(name, args, span, "cat(\"format\", args...)")?;
        Ok(Type::Void)
    },
    lower: |_, args, _, cx| {
        lower_formatted(args, cx, |format, args| EventKind::Cat { format, args })
    },
};
