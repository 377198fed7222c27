//! The functions of a user-space binary, for wildcards in uprobes
//! (`uprobe:/bin/bash:read*`); where they come from is a trait, so the checker stays pure.

/// Where the functions of binaries come from.
pub trait FunctionSymbols {
    /// The names of the functions defined in `binary` (a path, or a name to look up), or why
    /// they cannot be read.
    fn functions(&self, binary: &str) -> Result<Vec<String>, String>;
}

/// No binaries to read (checking without a system).
pub struct NoSymbols;

impl FunctionSymbols for NoSymbols {
    fn functions(&self, _binary: &str) -> Result<Vec<String>, String> {
        Err("binaries cannot be read here".into())
    }
}
