//! `system(fmt, args...)`: runs a shell command (with `--unsafe`), and `cat(fmt, args...)`:
//! prints a file. Both are formatted as `printf` formats; userspace does the work when the
//! event arrives.

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
