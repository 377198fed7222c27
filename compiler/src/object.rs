//! The BPF ELF writer: an ordinary relocatable object that libbpf and bpftool read, with
//! BTF-defined maps in `.maps` (BTF written through libbpf's BTF writer), one section per
//! program, a `license` section, and relocations for map references.

use crate::bpf::insn::{class, mode, size, Insn, PSEUDO_MAP_FD};
use libbpf_sys as sys;
use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};
use std::ffi::CString;
use std::fmt;

/// One map of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// A C identifier: the map's symbol and its name in the kernel.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// One program: its symbol name, its section (which tells libbpf its type) and its code.
/// Map references are `lddw` with `src == PSEUDO_MAP_FD` and `imm` = index into the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramDef {
    pub name: String,
    pub section: String,
    pub insns: Vec<Insn>,
}

/// A whole object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDef {
    pub license: String,
    pub maps: Vec<MapDef>,
    pub programs: Vec<ProgramDef>,
}

/// Why an object could not be written.
#[derive(Debug)]
pub struct ObjectError(String);

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ObjectError {}

/// Bytes of one map definition in `.maps`: one pointer per attribute.
fn map_def_size(m: &MapDef) -> u32 {
    8 * attributes(m).len() as u32
}

/// The attributes a BTF-defined map spells as `int (*name)[value]`.
fn attributes(m: &MapDef) -> Vec<(&'static str, u32)> {
    let mut a = vec![("type", m.map_type), ("max_entries", m.max_entries)];
    if m.key_size > 0 {
        a.push(("key_size", m.key_size));
    }
    if m.value_size > 0 {
        a.push(("value_size", m.value_size));
    }
    a
}

fn is_map_ref(i: &Insn) -> bool {
    i.code == class::LD | mode::IMM | size::DW && i.src == PSEUDO_MAP_FD
}

/// Writes the object as ELF bytes.
pub fn write_elf(def: &ObjectDef) -> Result<Vec<u8>, ObjectError> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let license = obj.add_section(vec![], b"license".to_vec(), SectionKind::Data);
    let mut text = def.license.clone().into_bytes();
    text.push(0);
    obj.append_section_data(license, &text, 1);
    obj.add_symbol(Symbol {
        name: b"_license".to_vec(),
        value: 0,
        size: text.len() as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(license),
        flags: SymbolFlags::None,
    });

    let maps = obj.add_section(vec![], b".maps".to_vec(), SectionKind::Data);
    let mut map_symbols = vec![];
    for m in &def.maps {
        let size = map_def_size(m);
        let offset = obj.append_section_data(maps, &vec![0u8; size as usize], 8);
        map_symbols.push(obj.add_symbol(Symbol {
            name: m.name.as_bytes().to_vec(),
            value: offset,
            size: size as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(maps),
            flags: SymbolFlags::None,
        }));
    }

    for p in &def.programs {
        let section = obj.add_section(vec![], p.section.as_bytes().to_vec(), SectionKind::Text);
        let mut insns = p.insns.clone();
        let mut relocs = vec![];
        for (i, insn) in insns.iter_mut().enumerate() {
            if is_map_ref(insn) {
                let map = usize::try_from(insn.imm)
                    .ok()
                    .filter(|m| *m < def.maps.len())
                    .ok_or_else(|| {
                        ObjectError(format!(
                            "program {} refers to map #{} of {}",
                            p.name,
                            insn.imm,
                            def.maps.len()
                        ))
                    })?;
                relocs.push((i as u64 * 8, map));
                insn.imm = 0;
                insn.src = 0;
            }
        }
        let bytes = crate::bpf::insn::encode_all(&insns);
        obj.append_section_data(section, &bytes, 8);
        obj.add_symbol(Symbol {
            name: p.name.as_bytes().to_vec(),
            value: 0,
            size: bytes.len() as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        for (offset, map) in relocs {
            obj.add_relocation(
                section,
                Relocation {
                    offset,
                    symbol: map_symbols[map],
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_64,
                    },
                },
            )
            .map_err(|e| ObjectError(format!("relocation: {e}")))?;
        }
    }

    let btf = obj.add_section(vec![], b".BTF".to_vec(), SectionKind::Metadata);
    obj.append_section_data(btf, &maps_btf(&def.maps)?, 4);
    obj.write().map_err(|e| ObjectError(format!("ELF: {e}")))
}

/// The `.BTF` that describes the maps: for each, an anonymous struct of `int (*attr)[N]`
/// members, a global variable of that type, and a `.maps` data section listing them.
fn maps_btf(maps: &[MapDef]) -> Result<Vec<u8>, ObjectError> {
    struct Btf(*mut sys::btf);
    impl Drop for Btf {
        fn drop(&mut self) {
            // SAFETY: created by btf__new_empty, freed once.
            unsafe { sys::btf__free(self.0) }
        }
    }
    let check = |id: i32, what: &str| {
        if id < 0 {
            Err(ObjectError(format!("BTF {what}: error {id}")))
        } else {
            Ok(id)
        }
    };
    let c = |s: &str| CString::new(s).map_err(|_| ObjectError(format!("NUL in name {s:?}")));
    // SAFETY: every call below receives the handle created here and valid C strings; ids
    // are checked before use.
    unsafe {
        let btf = Btf(sys::btf__new_empty());
        if btf.0.is_null() {
            return Err(ObjectError("BTF: cannot allocate".into()));
        }
        let b = btf.0;
        let int = check(
            sys::btf__add_int(b, c("int")?.as_ptr(), 4, sys::BTF_INT_SIGNED as i32),
            "int",
        )?;
        let mut vars = vec![];
        let mut offset = 0;
        for m in maps {
            let mut members = vec![];
            for (name, value) in attributes(m) {
                let array = check(sys::btf__add_array(b, int, int, value), "array")?;
                members.push((name, check(sys::btf__add_ptr(b, array), "pointer")?));
            }
            let size = map_def_size(m);
            let st = check(sys::btf__add_struct(b, std::ptr::null(), size), "struct")?;
            for (i, (name, ty)) in members.iter().enumerate() {
                check(
                    sys::btf__add_field(b, c(name)?.as_ptr(), *ty, (i * 64) as u32, 0),
                    "field",
                )?;
            }
            let var = check(
                sys::btf__add_var(
                    b,
                    c(&m.name)?.as_ptr(),
                    sys::BTF_VAR_GLOBAL_ALLOCATED as i32,
                    st,
                ),
                "var",
            )?;
            vars.push((var, offset, size));
            offset += size;
        }
        check(
            sys::btf__add_datasec(b, c(".maps")?.as_ptr(), offset),
            "datasec",
        )?;
        for (var, off, size) in vars {
            check(
                sys::btf__add_datasec_var_info(b, var, off, size),
                "datasec entry",
            )?;
        }
        let mut len = 0u32;
        let data = sys::btf__raw_data(b, &mut len);
        if data.is_null() {
            return Err(ObjectError("BTF: cannot serialise".into()));
        }
        Ok(std::slice::from_raw_parts(data as *const u8, len as usize).to_vec())
    }
}
