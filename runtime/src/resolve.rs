//! Values only userspace can show (`Type::Printed`), rendered as bpftrace prints them:
//! stacks and addresses as symbols (kernel addresses through `/proc/kallsyms`, user
//! addresses through the process's `/proc/PID/maps` and the symbol tables of the files
//! mapped there, so only while the process lives, as in bpftrace), errno messages, user
//! names and times. Tables are read once, when first needed.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use probe_compiler::EventKind;
use probe_lang::types::{Printed, StackMode};
use std::cell::OnceCell;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::RawFd;

/// A function's start, size and name.
type Symbol = (u64, u64, String);

/// Renders printed values: reads stacks from the stack map, resolves addresses.
#[derive(Default)]
pub struct Resolver {
    /// The stack map's descriptor, when the script takes stacks.
    stack_map: Option<RawFd>,
    /// The formats of `strftime` values, by the number that names them.
    time_formats: HashMap<u64, String>,
    /// `CLOCK_REALTIME` minus the monotonic clock `nsecs` reads.
    realtime_offset: i128,
    /// `/proc/kallsyms`, sorted by address.
    kernel: OnceCell<Vec<(u64, String)>>,
    /// Each file's function symbols (by link-time address, sorted), and how its file
    /// offsets map to those addresses.
    files: RefCell<HashMap<String, Option<ElfSymbols>>>,
    /// User names by uid, each looked up once: the lookup opens `/etc/passwd`, so a
    /// script tracing opens that prints `username` would otherwise see its own lookup
    /// as an event, print it, look up again, and never stop.
    user_names: RefCell<HashMap<u32, String>>,
}

/// What is needed of an ELF file to name its addresses.
struct ElfSymbols {
    symbols: Vec<Symbol>,
    /// Loadable segments: file offset, address, size.
    segments: Vec<(u64, u64, u64)>,
}

impl Resolver {
    /// A resolver reading stacks from the map `stack_map`, with the program's events
    /// (where `strftime` formats are).
    pub fn new(stack_map: Option<RawFd>, events: &[EventKind]) -> Resolver {
        let time_formats = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                EventKind::StrftimeFormat { format } => Some((i as u64, format.clone())),
                _ => None,
            })
            .collect();
        let clock = |id| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime fills the timespec.
            unsafe { libc::clock_gettime(id, &mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        Resolver {
            stack_map,
            time_formats,
            realtime_offset: clock(libc::CLOCK_REALTIME) - clock(libc::CLOCK_MONOTONIC),
            ..Resolver::default()
        }
    }

    /// Renders a printed value from its 16 bytes (id or address, then pid); `indent` is
    /// the frames' indentation (4 in map keys, 8 elsewhere, as bpftrace).
    pub fn render(&self, kind: Printed, bytes: &[u8], indent: usize) -> String {
        let word = |i: usize| {
            bytes
                .get(i * 8..i * 8 + 8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        };
        let (first, pid) = (word(0), word(1) as u32);
        match kind {
            Printed::Symbol { user: false } => self
                .kernel_symbol(first)
                .map_or_else(|| unresolved(first), |(name, _)| name.to_string()),
            Printed::Symbol { user: true } => self
                .user_symbol(pid, first)
                .map_or_else(|| unresolved(first), |(name, _, _)| name),
            Printed::Errno => {
                // SAFETY: strerror returns a NUL-terminated string.
                let msg = unsafe { std::ffi::CStr::from_ptr(libc::strerror(first as i32)) };
                msg.to_string_lossy().into_owned()
            }
            Printed::UserName => self
                .user_names
                .borrow_mut()
                .entry(first as u32)
                .or_insert_with(|| user_name(first as u32))
                .clone(),
            Printed::Inet => inet(first, bytes.get(8..24).unwrap_or(&[])),
            Printed::Buf { len } => {
                let n = (first as usize).min(len as usize);
                let data = bytes.get(8..8 + n).unwrap_or(&[]);
                data.iter()
                    .map(|&b| match b {
                        0x20..=0x7e => (b as char).to_string(),
                        _ => format!("\\x{b:02x}"),
                    })
                    .collect()
            }
            Printed::CgroupPath => cgroup_path(first),
            Printed::SyscallName => {
                probe_lang::syscalls::name(first).map_or_else(|| first.to_string(), str::to_string)
            }
            Printed::SignalName => {
                probe_lang::signals::name(first as i64).unwrap_or_else(|| first.to_string())
            }
            Printed::Mac => bytes
                .iter()
                .take(6)
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
            Printed::Time => {
                let format = self.time_formats.get(&word(1)).map_or("", String::as_str);
                let wall = i128::from(first) + self.realtime_offset;
                format_time(format, wall)
            }
            Printed::Stack { user, mode, limit } => {
                let frames = self.stack(first as i64, limit);
                let mut out = String::from("\n");
                for addr in frames {
                    out.push_str(&self.frame(addr, user, pid, mode, indent));
                    out.push('\n');
                }
                out
            }
        }
    }

    /// One line of a stack, without its newline.
    fn frame(&self, addr: u64, user: bool, pid: u32, mode: StackMode, indent: usize) -> String {
        let resolved = if user {
            self.user_symbol(pid, addr)
                .map(|(name, off, path)| (format!("{name}+{off}"), path))
        } else {
            self.kernel_symbol(addr)
                .map(|(name, off)| (format!("{name}+{off}"), String::new()))
        };
        match mode {
            StackMode::Raw => format!("{addr:x}"),
            StackMode::Bpftrace => {
                let sym = resolved.map_or_else(|| format!("0x{addr:x}"), |(s, _)| s);
                format!("{:indent$}{sym}", "")
            }
            StackMode::Perf => match resolved {
                Some((sym, path)) if user => format!("\t{addr:x} {sym} ({path})"),
                Some((sym, _)) => format!("\t{addr:x} {sym}"),
                None if user => format!("\t{addr:x} 0x{addr:x} ([unknown])"),
                None => format!("\t{addr:x} 0x{addr:x}"),
            },
        }
    }

    /// The addresses of stack `id`, innermost first, at most `limit`.
    fn stack(&self, id: i64, limit: u8) -> Vec<u64> {
        let (Some(fd), Ok(key)) = (self.stack_map, u32::try_from(id)) else {
            return vec![];
        };
        let mut frames = vec![0u64; usize::from(probe_lang::types::MAX_STACK_FRAMES)];
        // SAFETY: the key is a u32 and the value buffer is the map's value size.
        let rc = unsafe {
            libbpf_sys::bpf_map_lookup_elem(
                fd,
                (&key as *const u32).cast(),
                frames.as_mut_ptr().cast(),
            )
        };
        if rc < 0 {
            return vec![];
        }
        frames
            .into_iter()
            .take_while(|&a| a != 0)
            .take(usize::from(limit))
            .collect()
    }

    /// The kernel symbol `addr` falls in, and the offset into it; of several symbols at
    /// one address, the last listed.
    pub fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
        let table = self.kernel.get_or_init(read_kallsyms);
        let i = table.partition_point(|(a, _)| *a <= addr);
        let (start, name) = table.get(i.checked_sub(1)?)?;
        Some((name, addr - start))
    }

    /// The function of process `pid` that `addr` falls in: its name, the offset into it
    /// and the file that defines it.
    pub fn user_symbol(&self, pid: u32, addr: u64) -> Option<(String, u64, String)> {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
        let (start, offset, path) = maps.lines().find_map(|line| {
            let mut f = line.split_whitespace();
            let (lo, hi) = f.next()?.split_once('-')?;
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).ok()?,
                u64::from_str_radix(hi, 16).ok()?,
            );
            let offset = u64::from_str_radix(f.nth(1)?, 16).ok()?;
            let path = f.nth(2)?;
            (lo <= addr && addr < hi && path.starts_with('/')).then_some((lo, offset, path))
        })?;
        let mut files = self.files.borrow_mut();
        let elf = files
            .entry(path.to_string())
            .or_insert_with(|| read_elf_symbols(&format!("/proc/{pid}/root{path}")))
            .as_ref()?;
        let file_offset = addr - start + offset;
        let vaddr = elf.segments.iter().find_map(|&(off, vaddr, size)| {
            (off <= file_offset && file_offset < off + size).then(|| file_offset - off + vaddr)
        })?;
        let i = elf.symbols.partition_point(|(a, _, _)| *a <= vaddr);
        let (sym_start, size, name) = elf.symbols.get(i.checked_sub(1)?)?;
        (vaddr < sym_start + (*size).max(1))
            .then(|| (name.clone(), vaddr - sym_start, path.to_string()))
    }
}

/// An address no symbol covers, as bpftrace shows it (C++'s `showbase`: 0 has no `0x`).
fn unresolved(addr: u64) -> String {
    if addr == 0 {
        "0".into()
    } else {
        format!("0x{addr:x}")
    }
}

/// An IPv4 (`family` 2) or IPv6 (10) address as inet_ntop(3) writes it.
fn inet(family: u64, addr: &[u8]) -> String {
    match (family, addr.len()) {
        (2, 16) => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        (10, 16) => {
            let octets: [u8; 16] = addr.try_into().expect("16 bytes");
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => String::new(),
    }
}

/// The paths of the cgroup with id `id` (a directory's inode), as bpftrace prints them:
/// `hierarchy:/path` for each mounted cgroup hierarchy that has it, comma-separated: the
/// v2 hierarchy (`unified`) first, then the v1 ones by name.
fn cgroup_path(id: u64) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut hierarchies: Vec<(bool, String, std::path::PathBuf)> = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let root = std::path::PathBuf::from(f.get(1)?);
            match *f.get(2)? {
                "cgroup2" => Some((false, "unified".to_string(), root)),
                "cgroup" => {
                    let name = root.file_name()?.to_string_lossy().into_owned();
                    Some((true, name, root))
                }
                _ => None,
            }
        })
        .collect();
    hierarchies.sort();
    hierarchies
        .iter()
        .filter_map(|(_, name, root)| {
            find_inode(root, id).map(|rel| format!("{name}:/{}", rel.display()))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The directory under `root` whose inode is `id`, relative to `root`.
fn find_inode(root: &std::path::Path, id: u64) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
            return dir.strip_prefix(root).ok().map(|p| p.to_path_buf());
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            pending.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    None
}

/// The name of user `uid` from the password database (the number if it has none).
fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: getpwuid_r writes into the passwd and the buffer given, and sets `found`
    // to the passwd or to null.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut found);
        if found.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr(pw.pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// The local time now, with strftime(3)'s `format` (`time()`).
pub fn local_time_now(format: &str) -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    format_time(format, since_epoch)
}

/// A wall-clock time in nanoseconds, in local time with strftime(3)'s `format`; `%f` is
/// the microseconds, as in bpftrace.
fn format_time(format: &str, wall_nsecs: i128) -> String {
    let secs = (wall_nsecs / 1_000_000_000) as libc::time_t;
    let micros = (wall_nsecs % 1_000_000_000) / 1000;
    let format = format.replace("%f", &format!("{micros:06}"));
    let Ok(c_format) = std::ffi::CString::new(format.as_str()) else {
        return String::new();
    };
    // SAFETY: localtime_r fills the tm; strftime writes at most the buffer's length.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = vec![0u8; 256 + format.len() * 8];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c_format.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// `/proc/kallsyms` as (address, name), sorted by address, keeping file order for equal
/// addresses.
fn read_kallsyms() -> Vec<(u64, String)> {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let mut table: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let name = f.nth(1)?;
            (addr != 0).then(|| (addr, name.to_string()))
        })
        .collect();
    table.sort_by_key(|(a, _)| *a);
    table
}

/// The function symbols and loadable segments of the ELF file at `path`.
fn read_elf_symbols(path: &str) -> Option<ElfSymbols> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let mut symbols: Vec<Symbol> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
        .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
        .collect();
    symbols.sort_by_key(|(a, _, _)| *a);
    symbols.dedup_by_key(|(a, _, _)| *a);
    let segments = file
        .segments()
        .map(|s| {
            let (off, size) = s.file_range();
            (off, s.address(), size)
        })
        .collect();
    Some(ElfSymbols { symbols, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_addresses_name_their_symbol() {
        let s = Resolver::new(None, &[]);
        let table = s.kernel.get_or_init(read_kallsyms);
        let Some((addr, _)) = table.iter().find(|(_, n)| n == "vfs_read") else {
            return; // kallsyms hides addresses from users without CAP_SYSLOG.
        };
        assert_eq!(s.kernel_symbol(addr + 3), Some(("vfs_read", 3)));
        let bytes = [(addr + 3).to_le_bytes(), [0; 8]].concat();
        assert_eq!(
            s.render(Printed::Symbol { user: false }, &bytes, 8),
            "vfs_read"
        );
    }

    #[test]
    fn own_functions_are_found_through_maps() {
        let s = Resolver::new(None, &[]);
        let addr = read_elf_symbols as *const () as u64;
        let (name, off, path) = s.user_symbol(std::process::id(), addr).expect("resolved");
        assert!(name.contains("read_elf_symbols"), "{name}");
        assert_eq!(off, 0);
        assert!(path.starts_with('/'));
    }
}
