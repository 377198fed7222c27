//! USDT probes: the SystemTap SDT notes (`.note.stapsdt`) of a binary, each with where the
//! probe is in the file and where its arguments are (`-4@%edi 8@16(%rbp) 4@$5`, x86-64).

use object::{Object, ObjectSection, ObjectSegment};
use probe_lang::symbols::{UsdtArg, UsdtProbe};
use std::path::Path;

/// The USDT probes of the ELF file at `path`.
pub fn probes(path: &Path) -> Result<Vec<UsdtProbe>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not an ELF file: {e}", path.display()))?;
    let Some(notes) = file.section_by_name(".note.stapsdt") else {
        return Ok(vec![]);
    };
    let notes = notes
        .data()
        .map_err(|e| format!("cannot read the USDT notes of {}: {e}", path.display()))?;
    let base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let file_offset = |addr: u64| segment_offset(&file, addr, false);
    let mut out = vec![];
    let mut at = 0;
    while at + 12 <= notes.len() {
        let word =
            |i: usize| u32::from_le_bytes(notes[i..i + 4].try_into().expect("4 bytes")) as usize;
        let (namesz, descsz, kind) = (word(at), word(at + 4), word(at + 8));
        let name_at = at + 12;
        let desc_at = name_at + namesz.div_ceil(4) * 4;
        let next = desc_at + descsz.div_ceil(4) * 4;
        if next > notes.len() {
            break;
        }
        if kind == 3 && &notes[name_at..name_at + namesz] == b"stapsdt\0" && descsz >= 24 {
            let desc = &notes[desc_at..desc_at + descsz];
            let addr = |i: usize| u64::from_le_bytes(desc[i..i + 8].try_into().expect("8 bytes"));
            let (mut pc, note_base, semaphore) = (addr(0), addr(8), addr(16));
            // Prelinking moves the code; the base section says by how much.
            if let (Some(actual), true) = (base, note_base != 0) {
                pc = pc.wrapping_add(actual).wrapping_sub(note_base);
            }
            let mut strings = desc[24..]
                .split(|b| *b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned());
            let provider = strings.next().unwrap_or_default();
            let name = strings.next().unwrap_or_default();
            let args = strings.next().unwrap_or_default();
            let args = args
                .split_whitespace()
                .map(parse_arg)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("USDT {provider}:{name} in {}: {e}", path.display()))?;
            out.push(UsdtProbe {
                provider,
                name,
                file_offset: file_offset(pc).unwrap_or(pc),
                semaphore_offset: match semaphore {
                    0 => 0,
                    s => file_offset(s).unwrap_or(0),
                },
                args,
            });
        }
        at = next;
    }
    Ok(out)
}

/// Where address `addr` of the running program is in the file: its segment's file
/// offset plus its distance from the segment's start (only code segments if `code`).
fn segment_offset(file: &object::File, addr: u64, code: bool) -> Option<u64> {
    file.segments().find_map(|seg| {
        let (start, size) = (seg.address(), seg.size());
        let (offset, _) = seg.file_range();
        let executable =
            matches!(seg.flags(), object::SegmentFlags::Elf { p_flags, .. } if p_flags.0 & 1 != 0);
        (addr >= start && addr < start + size && (executable || !code))
            .then(|| addr - start + offset)
    })
}

/// The file offset of code address `addr` in the ELF file at `path`.
pub fn code_offset(path: &Path, addr: u64) -> Result<u64, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not an ELF file: {e}", path.display()))?;
    segment_offset(&file, addr, true)
        .ok_or_else(|| format!("{addr:#x} is not a code address of {}", path.display()))
}

/// The offset in x86-64's `struct pt_regs` of a register, by any of its names.
fn register(name: &str) -> Option<u32> {
    let offset = match name {
        "rax" | "eax" | "ax" | "al" => 80,
        "rbx" | "ebx" | "bx" | "bl" => 40,
        "rcx" | "ecx" | "cx" | "cl" => 88,
        "rdx" | "edx" | "dx" | "dl" => 96,
        "rsi" | "esi" | "si" | "sil" => 104,
        "rdi" | "edi" | "di" | "dil" => 112,
        "rbp" | "ebp" | "bp" | "bpl" => 32,
        "rsp" | "esp" | "sp" | "spl" => 152,
        "rip" => 128,
        "r8" | "r8d" | "r8w" | "r8b" => 72,
        "r9" | "r9d" | "r9w" | "r9b" => 64,
        "r10" | "r10d" | "r10w" | "r10b" => 56,
        "r11" | "r11d" | "r11w" | "r11b" => 48,
        "r12" | "r12d" | "r12w" | "r12b" => 24,
        "r13" | "r13d" | "r13w" | "r13b" => 16,
        "r14" | "r14d" | "r14w" | "r14b" => 8,
        "r15" | "r15d" | "r15w" | "r15b" => 0,
        _ => return None,
    };
    Some(offset)
}

/// One argument: `[-]SIZE@OPERAND`, the operand `%reg`, `$constant` or `disp(%reg)`.
fn parse_arg(text: &str) -> Result<UsdtArg, String> {
    let bad = || format!("cannot read the argument `{text}`");
    let (size, operand) = text.split_once('@').ok_or_else(bad)?;
    let size: i8 = size.parse().map_err(|_| bad())?;
    let (signed, size) = (size < 0, size.unsigned_abs());
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(bad());
    }
    if let Some(reg) = operand.strip_prefix('%') {
        let regs_offset = register(reg).ok_or_else(bad)?;
        return Ok(UsdtArg::Register {
            regs_offset,
            size,
            signed,
        });
    }
    if let Some(value) = operand.strip_prefix('$') {
        return value.parse().map(UsdtArg::Constant).map_err(|_| bad());
    }
    let (disp, reg) = operand.split_once("(%").ok_or_else(bad)?;
    let reg = reg.strip_suffix(')').ok_or_else(bad)?;
    Ok(UsdtArg::Memory {
        regs_offset: register(reg).ok_or_else(bad)?,
        displacement: if disp.is_empty() {
            0
        } else {
            disp.parse().map_err(|_| bad())?
        },
        size,
        signed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(
            parse_arg("-4@%edi"),
            Ok(UsdtArg::Register {
                regs_offset: 112,
                size: 4,
                signed: true
            })
        );
        assert_eq!(
            parse_arg("8@-16(%rbp)"),
            Ok(UsdtArg::Memory {
                regs_offset: 32,
                displacement: -16,
                size: 8,
                signed: false
            })
        );
        assert_eq!(parse_arg("4@$5"), Ok(UsdtArg::Constant(5)));
        assert!(parse_arg("3@%rax").is_err());
        assert!(parse_arg("8@%xmm0").is_err());
    }
}
