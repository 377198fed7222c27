//! Kernel struct layouts from the running kernel's BTF (`/sys/kernel/btf/vmlinux`), read
//! through libbpf's BTF parser the first time a script names a struct.

use libbpf_sys as sys;
use probe_lang::structs::{FunctionProto, StructDef, StructField, StructTypes};
use probe_lang::types::Type;
use std::cell::OnceCell;
use std::ffi::{CStr, CString};

/// The kernel's BTF, loaded on first use.
#[derive(Default)]
pub struct KernelStructs {
    btf: OnceCell<Result<Btf, String>>,
}

/// An owned `struct btf`.
struct Btf(*mut sys::btf);

impl Drop for Btf {
    fn drop(&mut self) {
        // SAFETY: the pointer came from btf__parse and is freed once.
        unsafe { sys::btf__free(self.0) }
    }
}

/// Where the running kernel publishes its BTF.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

impl KernelStructs {
    /// The parsed BTF, or why it cannot be read.
    fn btf(&self) -> Result<&Btf, String> {
        self.btf
            .get_or_init(|| {
                let path = CString::new(VMLINUX_BTF).expect("no NUL");
                // SAFETY: a valid C string; a null btf_ext pointer is allowed.
                let btf = unsafe { sys::btf__parse(path.as_ptr(), std::ptr::null_mut()) };
                if btf.is_null() {
                    let err = std::io::Error::last_os_error();
                    Err(format!("cannot read {VMLINUX_BTF}: {err}"))
                } else {
                    Ok(Btf(btf))
                }
            })
            .as_ref()
            .map_err(|e| e.clone())
    }
}

impl KernelStructs {
    /// Kernel function `name`'s parameters and return value as C declarations, for
    /// `probe -lv 'fentry:NAME'`.
    pub fn function_declarations(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        Ok(self.btf()?.function_declarations(name))
    }
}

impl StructTypes for KernelStructs {
    fn function(&self, name: &str) -> Result<Option<FunctionProto>, String> {
        Ok(self.btf()?.find_function(name))
    }

    fn lookup(&self, name: &str) -> Result<Option<StructDef>, String> {
        Ok(self.btf()?.find_struct(name))
    }
}

/// BTF type kinds (`BTF_KIND_*`).
mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FLOAT: u32 = 16;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// One BTF type record.
struct TypeRef<'a> {
    ty: &'a sys::btf_type,
}

impl TypeRef<'_> {
    fn kind(&self) -> u32 {
        (self.ty.info >> 24) & 0x1f
    }
    fn vlen(&self) -> usize {
        (self.ty.info & 0xffff) as usize
    }
    fn kflag(&self) -> bool {
        self.ty.info >> 31 == 1
    }
    /// `size` for structs, unions, enums and ints.
    fn size(&self) -> u32 {
        // SAFETY: both union fields are u32.
        unsafe { self.ty.__bindgen_anon_1.size }
    }
    /// `type` for pointers, typedefs and qualifiers.
    fn target(&self) -> u32 {
        // SAFETY: both union fields are u32.
        unsafe { self.ty.__bindgen_anon_1.type_ }
    }
    /// The records that follow the type (members, the array description, int encoding).
    fn trailing<T>(&self) -> *const T {
        // SAFETY: BTF lays the variable part directly after the fixed `btf_type`.
        unsafe { (self.ty as *const sys::btf_type).add(1) as *const T }
    }
}

impl Btf {
    fn type_by_id(&self, id: u32) -> Option<TypeRef<'_>> {
        // SAFETY: libbpf returns null for an id out of range.
        let ty = unsafe { sys::btf__type_by_id(self.0, id) };
        // SAFETY: non-null pointers point into the parsed BTF, which outlives `self`.
        unsafe { ty.as_ref() }.map(|ty| TypeRef { ty })
    }

    fn name(&self, off: u32) -> String {
        // SAFETY: libbpf returns a NUL-terminated string or null.
        let p = unsafe { sys::btf__name_by_offset(self.0, off) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: checked non-null above.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// The prototype of kernel function `name`.
    fn function_proto(&self, name: &str) -> Option<TypeRef<'_>> {
        let cname = CString::new(name).ok()?;
        // SAFETY: a valid C string.
        let id = unsafe { sys::btf__find_by_name_kind(self.0, cname.as_ptr(), kind::FUNC) };
        if id <= 0 {
            return None;
        }
        self.type_by_id(self.type_by_id(id as u32)?.target())
    }

    /// The parameters of kernel function `name` as C declarations (`struct file * file`),
    /// then its return value's (`ssize_t retval`), as bpftrace lists them.
    fn function_declarations(&self, name: &str) -> Option<Vec<String>> {
        let proto = self.function_proto(name)?;
        let params = proto.trailing::<sys::btf_param>();
        let mut out: Vec<String> = (0..proto.vlen())
            .map(|i| {
                // SAFETY: a function prototype has vlen parameters after it.
                let p = unsafe { &*params.add(i) };
                format!("{} {}", self.c_type(p.type_), self.name(p.name_off))
            })
            .collect();
        if proto.target() != 0 {
            out.push(format!("{} retval", self.c_type(proto.target())));
        }
        Some(out)
    }

    /// Type `id` as C writes it: `unsigned int`, `struct file *`, `const char *`.
    fn c_type(&self, id: u32) -> String {
        if id == 0 {
            return "void".into();
        }
        let Some(t) = self.type_by_id(id) else {
            return "?".into();
        };
        let name = self.name(t.ty.name_off);
        match t.kind() {
            kind::PTR => {
                let inner = self.c_type(t.target());
                format!("{inner} *")
            }
            kind::CONST => format!("const {}", self.c_type(t.target())),
            kind::VOLATILE => format!("volatile {}", self.c_type(t.target())),
            kind::RESTRICT | kind::TYPE_TAG => self.c_type(t.target()),
            kind::STRUCT => format!("struct {name}"),
            kind::UNION => format!("union {name}"),
            kind::ENUM | kind::ENUM64 => format!("enum {name}"),
            kind::ARRAY => {
                // SAFETY: an array has one btf_array after it.
                let a = unsafe { *t.trailing::<sys::btf_array>() };
                format!("{}[{}]", self.c_type(a.type_), a.nelems)
            }
            kind::FUNC_PROTO => "void (*)()".into(),
            _ if name.is_empty() => "?".into(),
            _ => name,
        }
    }

    /// The parameters and return type of kernel function `name`.
    fn find_function(&self, name: &str) -> Option<FunctionProto> {
        let proto = self.function_proto(name)?;
        let params = proto.trailing::<sys::btf_param>();
        let params = (0..proto.vlen())
            .map(|i| {
                // SAFETY: a function prototype has vlen parameters after it.
                let p = unsafe { &*params.add(i) };
                (self.name(p.name_off), self.value_type(p.type_))
            })
            .collect();
        let ret = match proto.target() {
            0 => None,
            t => Some(self.value_type(t)),
        };
        Some(FunctionProto { params, ret })
    }

    /// The struct or union called `name`, with a definition (not a forward declaration).
    fn find_struct(&self, name: &str) -> Option<StructDef> {
        let cname = CString::new(name).ok()?;
        for k in [kind::STRUCT, kind::UNION] {
            // SAFETY: a valid C string.
            let id = unsafe { sys::btf__find_by_name_kind(self.0, cname.as_ptr(), k) };
            if id > 0 {
                let t = self.type_by_id(id as u32)?;
                let mut fields = vec![];
                self.members(&t, 0, &mut fields);
                return Some(StructDef {
                    name: name.to_string(),
                    size: t.size(),
                    fields,
                });
            }
        }
        None
    }

    /// Appends the members of struct or union `t` found at byte `base`, lifting the members
    /// of anonymous structs and unions.
    fn members(&self, t: &TypeRef, base: u32, out: &mut Vec<StructField>) {
        let members = t.trailing::<sys::btf_member>();
        for i in 0..t.vlen() {
            // SAFETY: a struct has vlen members after it.
            let m = unsafe { &*members.add(i) };
            let (bit_offset, bitfield) = if t.kflag() {
                (m.offset & 0xff_ffff, m.offset >> 24)
            } else {
                (m.offset, 0)
            };
            let offset = base + bit_offset / 8;
            let name = self.name(m.name_off);
            if name.is_empty() {
                if let Some(inner) = self
                    .skip_modifiers(m.type_)
                    .and_then(|id| self.type_by_id(id))
                {
                    if matches!(inner.kind(), kind::STRUCT | kind::UNION) {
                        self.members(&inner, offset, out);
                    }
                }
                continue;
            }
            let ty = if bitfield != 0 || bit_offset % 8 != 0 {
                Err("a bitfield".to_string())
            } else {
                self.value_type(m.type_)
            };
            out.push(StructField { name, offset, ty });
        }
    }

    /// `id` with typedefs, `const`, `volatile`, `restrict` and type tags removed.
    fn skip_modifiers(&self, mut id: u32) -> Option<u32> {
        for _ in 0..32 {
            let t = self.type_by_id(id)?;
            match t.kind() {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = t.target()
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// The probe type of a value of BTF type `id`, or why it cannot be read.
    fn value_type(&self, id: u32) -> Result<Type, String> {
        let id = self
            .skip_modifiers(id)
            .ok_or("a type probe cannot resolve")?;
        let t = self.type_by_id(id).ok_or("a type probe cannot resolve")?;
        match t.kind() {
            kind::INT => {
                // SAFETY: an int has one u32 encoding after it.
                let enc = unsafe { *t.trailing::<u32>() };
                let bits = enc & 0xff;
                let signed = (enc >> 24) & 1 == 1;
                match bits {
                    1..=8 if (enc >> 24) & 4 != 0 => Ok(Type::Bool),
                    8 | 16 | 32 | 64 => Ok(Type::Int {
                        bits: bits as u8,
                        signed,
                    }),
                    _ => Err(format!("a {bits}-bit integer")),
                }
            }
            kind::ENUM | kind::ENUM64 => match t.size() {
                1 | 2 | 4 | 8 => Ok(Type::Int {
                    bits: (t.size() * 8) as u8,
                    signed: t.kflag(),
                }),
                n => Err(format!("a {n}-byte enum")),
            },
            kind::PTR => {
                let to = self
                    .skip_modifiers(t.target())
                    .and_then(|to| self.type_by_id(to));
                Ok(Type::Ptr(Box::new(match to {
                    Some(to) if matches!(to.kind(), kind::STRUCT | kind::UNION | kind::FWD) => {
                        let name = self.name(to.ty.name_off);
                        if name.is_empty() {
                            Type::U64
                        } else {
                            Type::Struct(name)
                        }
                    }
                    Some(to) if to.kind() == kind::INT => match self.value_type(t.target()) {
                        Ok(inner @ Type::Int { .. }) => inner,
                        _ => Type::U64,
                    },
                    _ => Type::U64,
                })))
            }
            kind::STRUCT | kind::UNION => {
                let name = self.name(t.ty.name_off);
                if name.is_empty() {
                    Err("an anonymous struct".into())
                } else {
                    Ok(Type::Struct(name))
                }
            }
            kind::ARRAY => {
                // SAFETY: an array has one btf_array after it.
                let a = unsafe { *t.trailing::<sys::btf_array>() };
                match self.value_type(a.type_) {
                    Ok(Type::Int { bits: 8, .. }) if a.nelems > 0 => {
                        Ok(Type::Str { len: a.nelems })
                    }
                    _ => Err("an array other than char[N]".into()),
                }
            }
            kind::FLOAT => Err("a floating-point number".into()),
            _ => Err("a value of this kind".into()),
        }
    }
}
