//! Where a uprobe's binary is: a path as given, a program found in `PATH`, or a library
//! found in the library directories (`libc` is `/lib/x86_64-linux-gnu/libc.so.6` here);
//! and the functions it defines, for wildcards and listing.

use object::{Object, ObjectSymbol, SymbolKind};
use probe_lang::symbols::FunctionSymbols;
use std::path::{Path, PathBuf};

/// Functions of binaries, read from their ELF symbol tables.
pub struct ElfFunctions;

impl FunctionSymbols for ElfFunctions {
    fn functions(&self, binary: &str) -> Result<Vec<String>, String> {
        functions(&resolve(binary)?)
    }

    fn usdt_probes(&self, binary: &str) -> Result<Vec<probe_lang::symbols::UsdtProbe>, String> {
        crate::usdt::probes(&resolve(binary)?)
    }
}

/// The functions `path` defines (its static and dynamic symbols), sorted, each once.
pub fn functions(path: &Path) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not an ELF file: {e}", path.display()))?;
    let mut names: Vec<String> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The directories shared libraries are found in, most specific first.
const LIBRARY_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// The file `binary` names for process `pid`: a library by name is first looked for among
/// the files the process has mapped (`/proc/PID/maps`), which is the one it really uses.
pub fn resolve_for(binary: &str, pid: Option<i32>) -> Result<PathBuf, String> {
    if let (Some(pid), false) = (pid, binary.contains('/')) {
        let stem = binary.strip_prefix("lib").unwrap_or(binary);
        let stem = stem.split(".so").next().unwrap_or(stem);
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            let mapped = maps
                .lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .map(PathBuf::from)
                .find(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n == format!("lib{stem}.so") || n.starts_with(&format!("lib{stem}.so."))
                    })
                });
            if let Some(p) = mapped {
                return Ok(p);
            }
        }
    }
    resolve(binary)
}

/// The file `binary` names.
pub fn resolve(binary: &str) -> Result<PathBuf, String> {
    if binary.contains('/') {
        let path = Path::new(binary);
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("no file {binary}"))
        };
    }
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file());
    if let Some(p) = in_path {
        return Ok(p);
    }
    // A library by name: `libc`, `libc.so`, `c` all find `libc.so.6`.
    let stem = binary.strip_prefix("lib").unwrap_or(binary);
    let stem = stem.split(".so").next().unwrap_or(stem);
    for dir in LIBRARY_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n == format!("lib{stem}.so") || n.starts_with(&format!("lib{stem}.so."))
                })
            })
            // `libc.so` is often a linker script, not the library.
            .filter(|p| is_elf(p))
            .collect();
        found.sort();
        if let Some(p) = found.into_iter().next() {
            return Ok(p);
        }
    }
    Err(format!(
        "no program `{binary}` in PATH and no library lib{stem}.so in {}",
        LIBRARY_DIRS.join(", ")
    ))
}

/// True if `path` starts with the ELF magic number.
fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_are_found_in_a_process_maps() {
        let me = std::process::id() as i32;
        let libc = resolve_for("libc", Some(me)).unwrap();
        assert!(libc.to_string_lossy().contains("libc.so."), "{libc:?}");
    }

    #[test]
    fn lists_a_librarys_functions() {
        let libc = functions(&resolve("libc").unwrap()).unwrap();
        assert!(libc.iter().any(|f| f == "getpid"), "{}", libc.len());
        assert!(libc.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn finds_programs_and_libraries() {
        assert_eq!(resolve("/bin/sh").unwrap(), PathBuf::from("/bin/sh"));
        assert!(resolve("sh").unwrap().ends_with("sh"));
        let libc = resolve("libc").unwrap();
        assert!(libc.to_string_lossy().contains("libc.so."), "{libc:?}");
        assert_eq!(resolve("c").unwrap(), libc);
        assert!(resolve("/no/such/file").unwrap_err().contains("no file"));
        assert!(resolve("no-such-thing-at-all").is_err());
    }
}
