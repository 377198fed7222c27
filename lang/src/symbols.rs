//! The functions and USDT probes of a user-space binary, for uprobe wildcards
//! (`uprobe:/bin/bash:read*`) and `usdt:` probes; where they come from is a trait, so the
//! checker stays pure.

/// Where the functions of binaries come from.
pub trait FunctionSymbols {
    /// The names of the functions defined in `binary` (a path, or a name to look up), or why
    /// they cannot be read.
    fn functions(&self, binary: &str) -> Result<Vec<String>, String>;

    /// The USDT probes of `binary`.
    fn usdt_probes(&self, _binary: &str) -> Result<Vec<UsdtProbe>, String> {
        Err("binaries cannot be read here".into())
    }
}

/// No binaries to read (checking without a system).
pub struct NoSymbols;

impl FunctionSymbols for NoSymbols {
    fn functions(&self, _binary: &str) -> Result<Vec<String>, String> {
        Err("binaries cannot be read here".into())
    }
}

/// Where a USDT probe's argument is, as its note describes it (x86-64).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UsdtArg {
    /// In a register: its offset in `struct pt_regs`.
    Register {
        regs_offset: u32,
        size: u8,
        signed: bool,
    },
    /// In memory at a register plus a displacement.
    Memory {
        regs_offset: u32,
        displacement: i64,
        size: u8,
        signed: bool,
    },
    /// A constant.
    Constant(i64),
}

/// A USDT probe of a binary (a SystemTap SDT note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// Where the probe is, as an offset in the file (what a uprobe attaches to).
    pub file_offset: u64,
    /// The semaphore's offset in the file, 0 if it has none.
    pub semaphore_offset: u64,
    pub args: Vec<UsdtArg>,
}
