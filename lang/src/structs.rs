//! Struct layouts for field access through pointers (`curtask->pid`,
//! `((struct task_struct *)p)->real_parent->pid`): where they come from is a trait, so the
//! checker stays pure; the runtime reads them from the kernel's BTF.

use crate::types::Type;

/// The layout of a struct or union.
#[derive(Clone, Debug, PartialEq)]
pub struct StructDef {
    /// The name without `struct`.
    pub name: String,
    /// Size in bytes.
    pub size: u32,
    /// Its fields, with the members of anonymous structs and unions inside it lifted to this
    /// level (as C lets a program name them).
    pub fields: Vec<StructField>,
}

/// One field of a struct.
#[derive(Clone, Debug, PartialEq)]
pub struct StructField {
    pub name: String,
    /// Byte offset from the start of the struct.
    pub offset: u32,
    /// The field's type, or why probe cannot read it (a bitfield, an array of structs ...).
    pub ty: Result<Type, String>,
}

impl StructDef {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&StructField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A kernel function's parameters and return type, for `fentry`/`fexit` `args`.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionProto {
    /// Each parameter's name and type (or why probe cannot read it).
    pub params: Vec<(String, Result<Type, String>)>,
    /// The return type; `None` for `void`.
    pub ret: Option<Result<Type, String>>,
}

/// Where struct layouts (and kernel function types) come from.
pub trait StructTypes {
    /// The struct called `name` (without `struct`); `Ok(None)` if there is none, `Err` if
    /// the types cannot be read at all.
    fn lookup(&self, name: &str) -> Result<Option<StructDef>, String>;

    /// The type of kernel function `name`; `Ok(None)` if there is none.
    fn function(&self, _name: &str) -> Result<Option<FunctionProto>, String> {
        Err("no kernel function types are available here".into())
    }
}

/// No struct types at all (checking without a kernel).
pub struct NoStructTypes;

impl StructTypes for NoStructTypes {
    fn lookup(&self, _name: &str) -> Result<Option<StructDef>, String> {
        Err("no kernel types are available here".into())
    }
}

/// A fixed set of struct layouts (tests, and structs defined in the script).
impl StructTypes for [StructDef] {
    fn lookup(&self, name: &str) -> Result<Option<StructDef>, String> {
        Ok(self.iter().find(|s| s.name == name).cloned())
    }
}
