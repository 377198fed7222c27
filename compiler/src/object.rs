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
/// Map references are `lddw` with `src == PSEUDO_MAP_FD` and `imm` = index into the maps;
/// function references are `lddw` with `src == PSEUDO_FUNC` and the kernel's relative
/// `imm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramDef {
    pub name: String,
    pub section: String,
    /// The program's body, then its callbacks.
    pub insns: Vec<Insn>,
    /// Where each function starts in `insns` (the body at 0). Callbacks go to `.text`,
    /// where libbpf looks for the functions a program calls.
    pub functions: Vec<usize>,
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

/// A relocation to write: at a byte offset of a section, against a symbol.
type Reloc = (object::write::SectionId, u64, object::write::SymbolId);

/// A function placed in a section: its section's and its own name, and its byte offset
/// in the section.
struct Placed {
    section: String,
    name: String,
    offset: u64,
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

    let any_callbacks = def.programs.iter().any(|p| p.functions.len() > 1);
    let text = any_callbacks.then(|| obj.add_section(vec![], b".text".to_vec(), SectionKind::Text));
    let mut relocs: Vec<Reloc> = vec![];
    let mut placed: Vec<Placed> = vec![];
    let mut callbacks: Vec<Placed> = vec![];
    // Programs of the same type share a section, one symbol each, as a C compiler lays
    // them out: section names are what libbpf matches function information by.
    let mut sections = std::collections::HashMap::new();
    for p in &def.programs {
        let section = *sections.entry(p.section.clone()).or_insert_with(|| {
            obj.add_section(vec![], p.section.as_bytes().to_vec(), SectionKind::Text)
        });
        let body_end = p.functions.get(1).copied().unwrap_or(p.insns.len());
        let text_base = text.map_or(0, |t| obj.section(t).data().len() as u64);
        // Where function code starting at instruction `at` lands in `.text`.
        let text_offset = |at: usize| text_base + ((at - body_end) * 8) as u64;
        let mut place = |obj: &mut Object, target, range: std::ops::Range<usize>| {
            let mut insns = p.insns[range.clone()].to_vec();
            for (i, insn) in insns.iter_mut().enumerate() {
                let pc = range.start + i;
                let at = obj.section(target).data().len() as u64 + i as u64 * 8;
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
                    relocs.push((target, at, map_symbols[map]));
                    insn.imm = 0;
                    insn.src = 0;
                } else if insn.is_func_ref() {
                    let callee = (pc as i64 + 1 + i64::from(insn.imm)) as usize;
                    let text = text.expect("a program with callbacks has .text");
                    // libbpf finds a static function by its byte offset in `.text`.
                    insn.imm = text_offset(callee) as i32;
                    let symbol = obj.section_symbol(text);
                    relocs.push((target, at, symbol));
                }
            }
            let bytes = crate::bpf::insn::encode_all(&insns);
            Ok::<_, ObjectError>(obj.append_section_data(target, &bytes, 8))
        };
        let offset = place(&mut obj, section, 0..body_end)?;
        placed.push(Placed {
            section: p.section.clone(),
            name: p.name.clone(),
            offset,
        });
        obj.add_symbol(Symbol {
            name: p.name.as_bytes().to_vec(),
            value: offset,
            size: body_end as u64 * 8,
            kind: SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        for (n, &start) in p.functions.iter().enumerate().skip(1) {
            let end = p.functions.get(n + 1).copied().unwrap_or(p.insns.len());
            let text = text.expect("a program with callbacks has .text");
            let offset = place(&mut obj, text, start..end)?;
            let name = format!("{}_callback{n}", p.name);
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: offset,
                size: (end - start) as u64 * 8,
                kind: SymbolKind::Text,
                scope: SymbolScope::Compilation,
                weak: false,
                section: SymbolSection::Section(text),
                flags: SymbolFlags::None,
            });
            callbacks.push(Placed {
                section: ".text".into(),
                name,
                offset,
            });
        }
    }
    for (section, offset, symbol) in relocs {
        obj.add_relocation(
            section,
            Relocation {
                offset,
                symbol,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: object::elf::R_BPF_64_64,
                },
            },
        )
        .map_err(|e| ObjectError(format!("relocation: {e}")))?;
    }

    let functions = any_callbacks.then_some((&placed[..], &callbacks[..]));
    let (btf_bytes, btf_ext) = object_btf(def, functions)?;
    let btf = obj.add_section(vec![], b".BTF".to_vec(), SectionKind::Metadata);
    obj.append_section_data(btf, &btf_bytes, 4);
    if let Some(ext) = btf_ext {
        let section = obj.add_section(vec![], b".BTF.ext".to_vec(), SectionKind::Metadata);
        obj.append_section_data(section, &ext, 4);
    }
    obj.write().map_err(|e| ObjectError(format!("ELF: {e}")))
}

/// The `.BTF` that describes the maps: for each, an anonymous struct of `int (*attr)[N]`
/// members, a global variable of that type, and a `.maps` data section listing them.
/// With callbacks, also a `FUNC` for every function, and the `.BTF.ext` that tells the
/// kernel which function each is (it must know a callback is static).
#[allow(clippy::type_complexity)]
fn object_btf(
    def: &ObjectDef,
    functions: Option<(&[Placed], &[Placed])>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), ObjectError> {
    let maps = &def.maps;
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
        let ext = match functions {
            None => None,
            Some((programs, callbacks)) => {
                let ptr = check(sys::btf__add_ptr(b, 0), "void pointer")?;
                let func = |name: &str, params: &[&str], linkage| {
                    let proto = check(sys::btf__add_func_proto(b, int), "function type")?;
                    for p in params {
                        check(
                            sys::btf__add_func_param(b, c(p)?.as_ptr(), ptr),
                            "parameter",
                        )?;
                    }
                    check(
                        sys::btf__add_func(b, c(name)?.as_ptr(), linkage, proto),
                        "function",
                    )
                };
                let str_off = |s: &str| check(sys::btf__add_str(b, c(s)?.as_ptr()), "string");
                let mut sections: Vec<(i32, Vec<(u32, i32)>)> = vec![];
                let mut add = |f: &Placed, id: i32| -> Result<(), ObjectError> {
                    let name = str_off(&f.section)?;
                    match sections.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, funcs)) => funcs.push((f.offset as u32, id)),
                        None => sections.push((name, vec![(f.offset as u32, id)])),
                    }
                    Ok(())
                };
                for p in programs {
                    add(p, func(&p.name, &["ctx"], sys::BTF_FUNC_GLOBAL)?)?;
                }
                for cb in callbacks {
                    let params = ["map", "key", "value", "ctx"];
                    add(cb, func(&cb.name, &params, sys::BTF_FUNC_STATIC)?)?;
                }
                Some(func_info_ext(&sections))
            }
        };
        let mut len = 0u32;
        let data = sys::btf__raw_data(b, &mut len);
        if data.is_null() {
            return Err(ObjectError("BTF: cannot serialise".into()));
        }
        Ok((
            std::slice::from_raw_parts(data as *const u8, len as usize).to_vec(),
            ext,
        ))
    }
}

/// A `.BTF.ext` with function information only: for each section (by the offset of its
/// name in the BTF strings), the byte offset and BTF `FUNC` of each function in it.
fn func_info_ext(sections: &[(i32, Vec<(u32, i32)>)]) -> Vec<u8> {
    const HEADER_LEN: u32 = 24;
    const RECORD_SIZE: u32 = 8;
    let mut info = RECORD_SIZE.to_le_bytes().to_vec();
    for (name, funcs) in sections {
        info.extend((*name as u32).to_le_bytes());
        info.extend((funcs.len() as u32).to_le_bytes());
        for (offset, id) in funcs {
            info.extend(offset.to_le_bytes());
            info.extend((*id as u32).to_le_bytes());
        }
    }
    let mut out = vec![];
    out.extend(0xeb9f_u16.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    out.extend(HEADER_LEN.to_le_bytes());
    out.extend(0u32.to_le_bytes()); // func_info_off, from the end of the header
    out.extend((info.len() as u32).to_le_bytes());
    out.extend((info.len() as u32).to_le_bytes()); // line_info_off: none follow
    out.extend(0u32.to_le_bytes());
    out.extend(info);
    out
}
