//! A safe face on libbpf's object API: open an ELF object from memory, load it (keeping
//! libbpf's messages and the verifier log), find programs and maps, attach, test-run.

use libbpf_sys as sys;
use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// libbpf's messages on this thread: libbpf reports on the thread that called it, so
    /// parallel loads do not mix their logs.
    static LOG: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}
static VERBOSE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    fn vsnprintf(
        buf: *mut libc::c_char,
        n: usize,
        fmt: *const libc::c_char,
        ap: *mut sys::__va_list_tag,
    ) -> libc::c_int;
}

/// Receives libbpf's messages: kept for error reports, echoed to stderr under `-v`.
unsafe extern "C" fn capture(
    _level: sys::libbpf_print_level,
    fmt: *const libc::c_char,
    ap: *mut sys::__va_list_tag,
) -> libc::c_int {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: libbpf hands a valid format and argument list; the buffer is big enough for
    // vsnprintf's bound.
    let n = unsafe { vsnprintf(buf.as_mut_ptr().cast(), buf.len(), fmt, ap) };
    if n > 0 {
        let len = (n as usize).min(buf.len() - 1);
        let text = String::from_utf8_lossy(&buf[..len]);
        if VERBOSE.load(Ordering::Relaxed) {
            eprint!("{text}");
        }
        LOG.with(|log| log.borrow_mut().push_str(&text));
    }
    0
}

fn install_printer() {
    // SAFETY: registers a function with the signature libbpf expects.
    unsafe { sys::libbpf_set_print(Some(capture)) };
}

/// Shows libbpf's messages on stderr as they come (`-v`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Takes the libbpf messages collected so far on this thread.
pub fn take_log() -> String {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// A failed load: the program that failed (if libbpf said), the errno, and the log.
#[derive(Debug)]
pub struct LoadError {
    pub program: Option<String>,
    pub errno: i32,
    pub message: String,
    /// libbpf's messages, with the kernel verifier log of the failing program.
    pub log: String,
}

/// An attach that failed, with its errno.
#[derive(Debug)]
pub struct AttachError(io::Error);

impl AttachError {
    /// The errno the kernel or libbpf answered.
    pub fn errno(&self) -> i32 {
        self.0.raw_os_error().unwrap_or(0)
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(errno) => f.write_str(&errno_text(errno)),
            None => self.0.fmt(f),
        }
    }
}

/// An attached program; detaches when dropped.
pub struct Link {
    link: *mut sys::bpf_link,
}

impl Drop for Link {
    fn drop(&mut self) {
        // SAFETY: the link came from libbpf and is destroyed once.
        unsafe { sys::bpf_link__destroy(self.link) };
    }
}

/// An opened (and, after `load`, loaded) BPF object. Closing it unloads everything.
pub struct Object {
    obj: *mut sys::bpf_object,
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: the object came from libbpf and is closed once.
        unsafe { sys::bpf_object__close(self.obj) };
    }
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("no NUL left")
}

impl Object {
    /// Opens an ELF object held in memory.
    pub fn open(elf: &[u8], name: &str) -> io::Result<Object> {
        install_printer();
        let name = cstring(name);
        let opts = sys::bpf_object_open_opts {
            sz: std::mem::size_of::<sys::bpf_object_open_opts>() as _,
            object_name: name.as_ptr(),
            ..Default::default()
        };
        // SAFETY: the buffer and options outlive the call; libbpf copies what it keeps.
        let obj = unsafe { sys::bpf_object__open_mem(elf.as_ptr().cast(), elf.len() as _, &opts) };
        if obj.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Object { obj })
    }

    /// Creates the maps and loads every program (the kernel verifier runs here).
    pub fn load(&mut self) -> Result<(), LoadError> {
        take_log();
        // SAFETY: a valid, opened object.
        let rc = unsafe { sys::bpf_object__load(self.obj) };
        if rc == 0 {
            return Ok(());
        }
        let errno = -rc;
        let log = take_log();
        let program = self
            .program_names()
            .into_iter()
            .find(|n| log.contains(&format!("prog '{n}'")));
        Err(LoadError {
            program,
            errno,
            message: errno_text(errno),
            log,
        })
    }

    fn program_names(&self) -> Vec<String> {
        let mut names = vec![];
        let mut prog = std::ptr::null_mut();
        loop {
            // SAFETY: iterating the object's programs as libbpf documents.
            prog = unsafe { sys::bpf_object__next_program(self.obj, prog) };
            if prog.is_null() {
                return names;
            }
            // SAFETY: a valid program has a NUL-terminated name.
            names.push(
                unsafe { CStr::from_ptr(sys::bpf_program__name(prog)) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }

    fn program(&self, name: &str) -> io::Result<*mut sys::bpf_program> {
        let c = cstring(name);
        // SAFETY: a valid object and name.
        let p = unsafe { sys::bpf_object__find_program_by_name(self.obj, c.as_ptr()) };
        if p.is_null() {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no program {name}"),
            ))
        } else {
            Ok(p)
        }
    }

    /// The file descriptor of a loaded program.
    pub fn program_fd(&self, name: &str) -> Option<RawFd> {
        let p = self.program(name).ok()?;
        // SAFETY: a valid program.
        let fd = unsafe { sys::bpf_program__fd(p) };
        (fd >= 0).then_some(fd)
    }

    /// The file descriptor of a created map.
    pub fn map_fd(&self, name: &str) -> Option<RawFd> {
        let c = cstring(name);
        // SAFETY: a valid object and name.
        let m = unsafe { sys::bpf_object__find_map_by_name(self.obj, c.as_ptr()) };
        if m.is_null() {
            return None;
        }
        // SAFETY: a valid map.
        let fd = unsafe { sys::bpf_map__fd(m) };
        (fd >= 0).then_some(fd)
    }

    fn link(link: *mut sys::bpf_link) -> Result<Link, AttachError> {
        if link.is_null() {
            Err(AttachError(io::Error::last_os_error()))
        } else {
            Ok(Link { link })
        }
    }

    /// Attaches a program to `category:event`.
    pub fn attach_tracepoint(
        &self,
        prog: &str,
        category: &str,
        event: &str,
    ) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        let (c, e) = (cstring(category), cstring(event));
        // SAFETY: valid program and strings.
        Self::link(unsafe { sys::bpf_program__attach_tracepoint(p, c.as_ptr(), e.as_ptr()) })
    }

    /// Attaches a program to the entry (or the return) of `function` + `offset` in the
    /// ELF file `binary` (without a function, at that file offset; `semaphore` is a USDT
    /// semaphore's file offset, or 0), in process `pid` only, or in every process for
    /// `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn attach_uprobe(
        &self,
        prog: &str,
        binary: &Path,
        function: Option<&str>,
        offset: u64,
        semaphore: u64,
        ret: bool,
        pid: Option<i32>,
    ) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        let path = cstring(&binary.to_string_lossy());
        let f = function.map(cstring);
        let opts = sys::bpf_uprobe_opts {
            sz: std::mem::size_of::<sys::bpf_uprobe_opts>() as _,
            retprobe: ret,
            ref_ctr_offset: semaphore as _,
            func_name: f.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            ..Default::default()
        };
        // SAFETY: valid program, strings and options that outlive the call.
        Self::link(unsafe {
            sys::bpf_program__attach_uprobe_opts(
                p,
                pid.unwrap_or(-1),
                path.as_ptr(),
                offset as _,
                &opts,
            )
        })
    }

    /// Runs an iterator program (`iter/task`, ...) over everything it iterates: attaches it,
    /// then reads the iterator to its end (the program's output goes through the ring
    /// buffer, not the read).
    pub fn run_iterator(&self, prog: &str) -> Result<(), AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        // SAFETY: a valid program; no options.
        let link = Self::link(unsafe { sys::bpf_program__attach_iter(p, std::ptr::null()) })?;
        // SAFETY: the link is alive.
        let fd = unsafe { sys::bpf_iter_create(sys::bpf_link__fd(link.link)) };
        if fd < 0 {
            return Err(AttachError(io::Error::from_raw_os_error(-fd)));
        }
        // SAFETY: a new descriptor owned here.
        let mut iter = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        std::io::copy(&mut iter, &mut std::io::sink()).map_err(AttachError)?;
        Ok(())
    }

    /// Attaches an fentry/fexit program to the kernel function its section names.
    pub fn attach_trace(&self, prog: &str) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        // SAFETY: a valid program.
        Self::link(unsafe { sys::bpf_program__attach_trace(p) })
    }

    /// Attaches a raw tracepoint program to tracepoint `event`.
    pub fn attach_raw_tracepoint(&self, prog: &str, event: &str) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        let e = cstring(event);
        // SAFETY: valid program and string.
        Self::link(unsafe { sys::bpf_program__attach_raw_tracepoint(p, e.as_ptr()) })
    }

    /// Attaches a program to the entry (or the return) of a kernel function, `offset`
    /// bytes into it.
    pub fn attach_kprobe(
        &self,
        prog: &str,
        function: &str,
        offset: u64,
        ret: bool,
    ) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        let f = cstring(function);
        let opts = sys::bpf_kprobe_opts {
            sz: std::mem::size_of::<sys::bpf_kprobe_opts>() as _,
            offset: offset as _,
            retprobe: ret,
            ..Default::default()
        };
        // SAFETY: valid program, string and options that outlive the call.
        Self::link(unsafe { sys::bpf_program__attach_kprobe_opts(p, f.as_ptr(), &opts) })
    }

    /// Attaches a program to an open perf event; the link owns the event from then on
    /// (libbpf closes it when the link is destroyed).
    pub fn attach_perf_event(&self, prog: &str, perf: OwnedFd) -> Result<Link, AttachError> {
        let p = self.program(prog).map_err(AttachError)?;
        // SAFETY: valid program and perf event descriptor.
        let link = unsafe { sys::bpf_program__attach_perf_event(p, perf.as_raw_fd()) };
        if link.is_null() {
            return Err(AttachError(io::Error::last_os_error()));
        }
        let _ = perf.into_raw_fd();
        Self::link(link)
    }
}

/// Runs a loaded program once with `BPF_PROG_TEST_RUN` (raw tracepoint programs: BEGIN and
/// END) and returns its return value.
pub fn test_run(prog_fd: RawFd, ctx: &[u8]) -> io::Result<u32> {
    let mut opts = sys::bpf_test_run_opts {
        sz: std::mem::size_of::<sys::bpf_test_run_opts>() as _,
        ctx_in: ctx.as_ptr().cast(),
        ctx_size_in: ctx.len() as u32,
        ..Default::default()
    };
    // SAFETY: the context buffer outlives the call.
    let rc = unsafe { sys::bpf_prog_test_run_opts(prog_fd, &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok(opts.retval)
}

/// Runs a loaded XDP program `repeat` times in a row on an empty Ethernet frame; returns
/// its last return value and the average time of one run in nanoseconds.
pub fn test_run_repeated(prog_fd: RawFd, repeat: u32) -> io::Result<(u32, u32)> {
    let frame = [0u8; 14];
    let mut opts = sys::bpf_test_run_opts {
        sz: std::mem::size_of::<sys::bpf_test_run_opts>() as _,
        data_in: frame.as_ptr().cast(),
        data_size_in: frame.len() as u32,
        repeat: repeat as _,
        ..Default::default()
    };
    // SAFETY: the context buffer outlives the call.
    let rc = unsafe { sys::bpf_prog_test_run_opts(prog_fd, &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok((opts.retval, opts.duration))
}

/// Number of possible CPUs (the stride of per-CPU map values).
pub fn possible_cpus() -> usize {
    // SAFETY: no arguments.
    let n = unsafe { sys::libbpf_num_possible_cpus() };
    n.max(1) as usize
}

/// The C library's text for an errno, without Rust's "(os error N)" suffix.
pub fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
