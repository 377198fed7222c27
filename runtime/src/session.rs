//! One tracing run: load the object, attach every probe, run BEGIN, poll the ring buffer
//! until `exit()`, a signal or the end of the `-c` command, run END, print the maps.

use crate::json::Format;
use crate::libbpf::LoadError;
use crate::output::{self, Event};
use crate::perf;
use crate::resolve::Resolver;
use probe_compiler::program::{CompiledProgram, SessionValue};
use probe_compiler::BuiltinFormat;
use probe_lang::config::MissingProbes;
use probe_lang::AttachKind;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the command line asked of the run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Stop after the kernel accepted the programs.
    pub dry_run: bool,
    /// Print libbpf's messages and the verifier log.
    pub verbose: u8,
    /// A command to run while tracing (`-c`).
    pub command: Option<String>,
    /// The process to trace (`-p`): uprobes attach to it only, and tracing ends when it
    /// exits.
    pub pid: Option<i32>,
    /// Trace, or run the `test:` or the `bench:` probes.
    pub mode: Mode,
    /// Text, or bpftrace's JSON (`-f json`).
    pub format: Format,
}

/// What a run does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Attach the probes and trace (`test:` and `bench:` probes do not run).
    #[default]
    Trace,
    /// Run each `test:` probe once and report which pass (`--test`).
    Test,
    /// Time each `bench:` probe (`--bench`).
    Bench,
}

/// Why a run failed, in one line for the user (libbpf's messages and the verifier log
/// go to stderr as they come under `-v`).
#[derive(Debug)]
pub struct RunError {
    pub message: String,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probe: {}", self.message)
    }
}

fn fail(message: impl Into<String>) -> RunError {
    RunError {
        message: message.into(),
    }
}

/// Sends everything printed to standard output to `path` instead.
pub fn redirect_stdout(path: &Path) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    // SAFETY: dup2 on two valid descriptors.
    if unsafe { libc::dup2(file.as_raw_fd(), 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

static STOP: AtomicBool = AtomicBool::new(false);
/// SIGUSR1 arrived: `self:signal:SIGUSR1` probes run.
static USR1: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGUSR1 {
        USR1.store(true, Ordering::SeqCst);
    } else {
        STOP.store(true, Ordering::SeqCst);
    }
}

/// SIGINT and SIGTERM end tracing, SIGUSR1 runs the signal probes (without SA_RESTART, so
/// a blocked poll returns at once).
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// A `-c` command, forked but held before `exec` until the probes are attached.
struct Child {
    pid: libc::pid_t,
    status: Option<i32>,
    release: Option<OwnedFd>,
}

impl Child {
    fn spawn(command: &str) -> Result<Child, RunError> {
        let words = split_command(command).map_err(fail)?;
        let Some(program) = words.first() else {
            return Err(fail("-c needs a command"));
        };
        let path =
            resolve(program).ok_or_else(|| fail(format!("-c: command not found: {program}")))?;
        let cstr = |s: &str| {
            std::ffi::CString::new(s).map_err(|_| fail("-c: the command contains a NUL byte"))
        };
        let path = cstr(&path.to_string_lossy())?;
        let args = words
            .iter()
            .map(|w| cstr(w))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(fail(format!("-c: pipe: {}", io::Error::last_os_error())));
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        io::stdout().flush().ok();
        // SAFETY: between fork and exec the child only makes async-signal-safe calls
        // (close, read, execv, _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(fail(format!("-c: fork: {}", io::Error::last_os_error())));
        }
        if pid == 0 {
            unsafe {
                libc::close(write.as_raw_fd());
                let mut b = 0u8;
                libc::read(read.as_raw_fd(), &mut b as *mut u8 as *mut libc::c_void, 1);
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        drop(read);
        Ok(Child {
            pid,
            status: None,
            release: Some(write),
        })
    }

    /// Lets the command exec.
    fn release(&mut self) {
        self.release.take();
    }

    fn exited(&mut self) -> bool {
        if self.status.is_none() {
            let mut status = 0;
            // SAFETY: our own child.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.status = Some(status);
            }
        }
        self.status.is_some()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.release.take();
        if !self.exited() {
            // SAFETY: our own child, still running (or a zombie we reap right after).
            unsafe {
                libc::kill(self.pid, libc::SIGTERM);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

/// Splits a `-c` command into words, honouring single and double quotes and backslashes.
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut words = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("-c: unterminated ' in the command".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.extend(chars.next()),
                        Some(c) => cur.push(c),
                        None => return Err("-c: unterminated \" in the command".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Finds a program on PATH; the first match wins (a name found twice simply runs).
fn resolve(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// True while process `pid` runs (a zombie has ended).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X')),
        Err(_) => false,
    }
}

/// Attaches probe `p` to a perf event of `kind`/`config` on every online CPU.
fn attach_every_cpu(
    object: &crate::libbpf::Object,
    p: &probe_compiler::program::CompiledProbe,
    kind: u32,
    config: u64,
    period: u64,
) -> Result<Vec<crate::libbpf::Link>, String> {
    let cpus =
        perf::online_cpus().map_err(|e| format!("{}: cannot list CPUs: {e}", p.attach_text))?;
    cpus.into_iter()
        .map(|cpu| {
            let fd = perf::open(kind, config, period, cpu).map_err(|e| {
                format!(
                    "{}: cannot open a perf event on CPU {cpu}: {e}",
                    p.attach_text
                )
            })?;
            object
                .attach_perf_event(&p.program_name, fd)
                .map_err(|e| format!("{}: cannot attach: {e}", p.attach_text))
        })
        .collect()
}

/// Runs the compiled program until it is told to stop, then prints its maps.
pub fn run(
    compiled: &CompiledProgram,
    elf: &[u8],
    fmt: &dyn BuiltinFormat,
    options: &Options,
) -> Result<(), RunError> {
    crate::libbpf::set_verbose(options.verbose > 0);
    if compiled.probes.iter().any(|p| {
        matches!(
            p.attach,
            AttachKind::Tracepoint { .. } | AttachKind::Kprobe { .. }
        )
    }) {
        crate::tracefs::ensure_mounted()
            .map_err(|e| fail(format!("cannot mount tracefs at /sys/kernel/tracing: {e}")))?;
    }
    let reads_child_pid = compiled
        .session_values
        .iter()
        .any(|(v, _)| *v == SessionValue::ChildPid);
    if reads_child_pid && options.command.is_none() && !options.dry_run {
        return Err(fail(
            "the script reads cpid, the process id of the -c command: run it with -c 'COMMAND'",
        ));
    }
    // Probe kinds this machine lacks are reported before anything is loaded (a dry run
    // only loads, so it goes on, unless the kernel cannot even load the program).
    if compiled.settings.missing_probes == MissingProbes::Error {
        if let Some((p, why)) = compiled
            .probes
            .iter()
            .filter(|p| !options.dry_run || matches!(p.attach, AttachKind::Fentry { .. }))
            .find_map(|p| crate::kernel::unavailable(&p.attach).map(|why| (p, why)))
        {
            return Err(fail(format!("{}: cannot attach: {why}", p.attach_text)));
        }
    }
    let mut object = crate::libbpf::Object::open(elf, "probe")
        .map_err(|e| fail(format!("cannot open the BPF object: {e}")))?;
    if let Err(e) = object.load() {
        return Err(load_error(&e, compiled));
    }
    if options.dry_run {
        return Ok(());
    }
    let mut child = options.command.as_deref().map(Child::spawn).transpose()?;
    if !compiled.session_values.is_empty() {
        let words: Vec<(usize, u64)> = compiled
            .session_values
            .iter()
            .map(|&(which, at)| {
                let value = match which {
                    SessionValue::ChildPid => child.as_ref().map_or(0, |c| u64::from(c.pid as u32)),
                    SessionValue::StartNsecs => monotonic_nsecs(),
                    SessionValue::Cpus => crate::libbpf::possible_cpus() as u64,
                };
                (at as usize, value)
            })
            .collect();
        let meta = compiled
            .maps
            .iter()
            .find(|m| m.object_name == "scratch")
            .ok_or_else(|| fail("the scratch map is missing"))?;
        let fd = object
            .map_fd(&meta.object_name)
            .ok_or_else(|| fail("the scratch map is missing"))?;
        crate::maps::set_on_every_cpu(fd, meta.value_size, &words).map_err(|e| {
            fail(format!(
                "cannot pass cpid, elapsed or ncpus to the probes: {e}"
            ))
        })?;
    }
    // Before the banner: a SIGUSR1 sent once it is read must find its handler.
    install_signal_handlers();
    // Test and bench probes run only in their modes, which print their own reports.
    let n = compiled
        .probes
        .iter()
        .filter(|p| !matches!(p.attach, AttachKind::Test { .. } | AttachKind::Bench { .. }))
        .count();
    let banner = match options.mode {
        Mode::Trace if options.format == Format::Json => {
            crate::json::record("attached_probes", &format!("{{\"probes\": {n}}}"))
        }
        Mode::Trace => format!("Attaching {n} probe{}...\n", if n == 1 { "" } else { "s" }),
        Mode::Test | Mode::Bench => String::new(),
    };
    let mut stdout = io::stdout();
    if stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Nobody reads our output (a closed pipe): there is no point in tracing.
        return Err(fail("cannot write to standard output"));
    }
    let mut links = vec![];
    let mut begin = vec![];
    let mut end = vec![];
    let mut on_usr1 = vec![];
    let mut iterators = vec![];
    let mut tests = vec![];
    let mut benches = vec![];
    for p in &compiled.probes {
        let prog = p.program_name.as_str();
        let attached = match &p.attach {
            AttachKind::Begin => {
                begin.push(prog);
                continue;
            }
            AttachKind::End => {
                end.push(prog);
                continue;
            }
            AttachKind::Signal => {
                on_usr1.push(prog);
                continue;
            }
            AttachKind::Iter { .. } => {
                iterators.push(p);
                continue;
            }
            AttachKind::Test { name } => {
                tests.push((name.as_str(), prog));
                continue;
            }
            AttachKind::Bench { name } => {
                benches.push((name.as_str(), prog));
                continue;
            }
            AttachKind::Tracepoint { category, event } => object
                .attach_tracepoint(prog, category, event)
                .map(|l| vec![l])
                .map_err(|e| {
                    if e.errno() == libc::ENOENT {
                        format!("{}: tracepoint not found", p.attach_text)
                    } else {
                        format!("{}: cannot attach: {e}", p.attach_text)
                    }
                }),
            AttachKind::Uprobe {
                binary,
                function,
                offset,
                ret,
            } => crate::uprobe::resolve_for(binary, options.pid)
                .map_err(|e| format!("{}: {e}", p.attach_text))
                .and_then(|path| {
                    // `-c` traces its command; `-p` the given process; else every process.
                    let pid = options.pid.or(child.as_ref().map(|c| c.pid));
                    // At an address: where it is in the file.
                    let (function, offset) = match function.as_str() {
                        "" => (
                            None,
                            crate::usdt::code_offset(&path, *offset)
                                .map_err(|e| format!("{}: {e}", p.attach_text))?,
                        ),
                        f => (Some(f), *offset),
                    };
                    object
                        .attach_uprobe(prog, &path, function, offset, 0, *ret, pid)
                        .map(|l| vec![l])
                        .map_err(|e| {
                            if e.errno() == libc::ENOENT {
                                format!(
                                    "{}: no function `{}` in {}",
                                    p.attach_text,
                                    function.unwrap_or_default(),
                                    path.display()
                                )
                            } else {
                                format!("{}: cannot attach: {e}", p.attach_text)
                            }
                        })
                }),
            AttachKind::Fentry { .. } => object
                .attach_trace(prog)
                .map(|l| vec![l])
                .map_err(|e| format!("{}: cannot attach: {e}", p.attach_text)),
            AttachKind::Usdt {
                binary,
                probe: Some(usdt),
                ..
            } => crate::uprobe::resolve_for(binary, options.pid)
                .map_err(|e| format!("{}: {e}", p.attach_text))
                .and_then(|path| {
                    let pid = options.pid.or(child.as_ref().map(|c| c.pid));
                    object
                        .attach_uprobe(
                            prog,
                            &path,
                            None,
                            usdt.file_offset,
                            usdt.semaphore_offset,
                            false,
                            pid,
                        )
                        .map(|l| vec![l])
                        .map_err(|e| format!("{}: cannot attach: {e}", p.attach_text))
                }),
            AttachKind::Usdt { probe: None, .. } => {
                Err(format!("{}: the USDT note was not resolved", p.attach_text))
            }
            AttachKind::RawTracepoint { event } => object
                .attach_raw_tracepoint(prog, event)
                .map(|l| vec![l])
                .map_err(|e| {
                    if e.errno() == libc::ENOENT {
                        format!(
                            "{}: no tracepoint `{event}` (probe -l 'tracepoint:*' lists them)",
                            p.attach_text
                        )
                    } else {
                        format!("{}: cannot attach: {e}", p.attach_text)
                    }
                }),
            AttachKind::Kprobe {
                function,
                offset,
                ret,
            } => object
                .attach_kprobe(prog, function, *offset, *ret)
                .map(|l| vec![l])
                .map_err(|e| format!("{}: cannot attach: {e}", p.attach_text)),
            AttachKind::Interval { period_ns } => crate::perf::open_cpu_clock(0, *period_ns)
                .map_err(|e| format!("{}: cannot open a perf event: {e}", p.attach_text))
                .and_then(|fd| {
                    object
                        .attach_perf_event(prog, fd)
                        .map(|l| vec![l])
                        .map_err(|e| format!("{}: cannot attach: {e}", p.attach_text))
                }),
            AttachKind::Profile { period_ns } => {
                attach_every_cpu(&object, p, perf::PERF_TYPE_SOFTWARE, 0, *period_ns)
            }
            AttachKind::Software { event, count } => {
                attach_every_cpu(&object, p, perf::PERF_TYPE_SOFTWARE, event.config, *count)
            }
            AttachKind::Hardware { event, count } => {
                attach_every_cpu(&object, p, perf::PERF_TYPE_HARDWARE, event.config, *count)
            }
        };
        let attached = attached.map_err(|e| match crate::kernel::unavailable(&p.attach) {
            Some(why) => format!("{}: cannot attach: {why}", p.attach_text),
            None => e,
        });
        match (attached, compiled.settings.missing_probes) {
            (Ok(new), _) => links.extend(new),
            (Err(e), MissingProbes::Error) => return Err(fail(e)),
            (Err(e), MissingProbes::Warn) => eprintln!("WARNING: {e}; tracing without it"),
            (Err(_), MissingProbes::Ignore) => {}
        }
    }
    let attachable = compiled.probes.len()
        - begin.len()
        - end.len()
        - on_usr1.len()
        - iterators.len()
        - tests.len()
        - benches.len();
    if attachable > 0 && links.is_empty() {
        return Err(fail("none of the probes could attach"));
    }

    let symbols = Resolver::new(object.map_fd("stacks"), &compiled.events);
    // The ring buffer callback only copies records; they are decoded and printed below.
    let queue: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let sink = queue.clone();
    let ringbuf_name = &compiled.maps[compiled.ringbuf as usize].object_name;
    let ringbuf_fd = object
        .map_fd(ringbuf_name)
        .ok_or_else(|| fail("the ring buffer map is missing"))?;
    let mut rb = crate::ringbuf::RingBuffer::new(ringbuf_fd, move |data: &[u8]| {
        sink.borrow_mut().push(data.to_vec())
    })
    .map_err(|e| fail(format!("cannot open the ring buffer: {e}")))?;

    let mut stop = false;
    // Decodes what the ring buffer delivered, printing to `out`; true if tracing must end.
    let drain_to = |queue: &Rc<RefCell<Vec<Vec<u8>>>>, out: &mut dyn Write| -> bool {
        let mut exit = false;
        for record in queue.borrow_mut().drain(..) {
            match output::decode_event(&compiled.events, &record, fmt, &symbols) {
                Some(Event::Print { kind, text }) => {
                    let s = output::print(options.format, kind, &text);
                    // A reader that went away (`| head`) ends tracing, as SIGPIPE would.
                    exit |= out.write_all(s.as_bytes()).is_err();
                }
                Some(Event::Value(v)) => {
                    let s = output::print_value(options.format, &v);
                    exit |= out.write_all(s.as_bytes()).is_err();
                }
                Some(Event::Exit) => exit = true,
                Some(Event::ClearMap(map)) => {
                    let meta = &compiled.maps[map as usize];
                    if let Some(fd) = object.map_fd(&meta.object_name) {
                        if meta.array() {
                            crate::maps::zero(fd, meta.key_size, meta.value_size, true).ok();
                        } else {
                            crate::maps::clear(fd, meta.key_size).ok();
                        }
                    }
                }
                Some(Event::PrintMap { map, top, div }) => {
                    let meta = &compiled.maps[map as usize];
                    match print_map(&object, &symbols, meta, fmt, top, div, options.format) {
                        Ok(text) => exit |= out.write_all(text.as_bytes()).is_err(),
                        Err(e) => eprintln!("WARNING: print(): {e}"),
                    }
                }
                Some(Event::System(command)) => {
                    out.flush().ok();
                    match std::process::Command::new("/bin/sh")
                        .args(["-c", &command])
                        .output()
                    {
                        Ok(o) => {
                            let text = String::from_utf8_lossy(&o.stdout);
                            let s = output::print(options.format, "syscall", &text);
                            exit |= out.write_all(s.as_bytes()).is_err();
                        }
                        Err(e) => eprintln!("WARNING: system(\"{command}\"): {e}"),
                    }
                }
                Some(Event::Stderr(text)) => {
                    out.flush().ok();
                    eprint!("{text}");
                }
                Some(Event::Cat(path)) => match std::fs::read(&path) {
                    Ok(bytes) => {
                        let text = String::from_utf8_lossy(&bytes);
                        let s = output::print(options.format, "cat", &text);
                        exit |= out.write_all(s.as_bytes()).is_err();
                    }
                    Err(e) => eprintln!("WARNING: cat(\"{path}\"): {e}"),
                },
                Some(Event::ZeroMap(map)) => {
                    let meta = &compiled.maps[map as usize];
                    if let Some(fd) = object.map_fd(&meta.object_name) {
                        crate::maps::zero(fd, meta.key_size, meta.value_size, meta.per_cpu()).ok();
                    }
                }
                None => {}
            }
        }
        exit |= out.flush().is_err();
        exit
    };
    let drain = |queue: &Rc<RefCell<Vec<Vec<u8>>>>| drain_to(queue, &mut io::stdout().lock());
    for prog in &begin {
        run_once(&object, prog)?;
    }
    rb.consume().ok();
    stop |= drain(&queue);
    if let Some(c) = &mut child {
        c.release();
    }
    match options.mode {
        Mode::Test => {
            let passed = run_tests(&object, &tests, &mut |out| {
                rb.consume().ok();
                drain_to(&queue, out);
            })?;
            // The report says which failed; the exit status says that one did.
            return if passed {
                Ok(())
            } else {
                Err(RunError {
                    message: String::new(),
                })
            };
        }
        Mode::Bench => return run_benches(&object, &benches),
        Mode::Trace => {}
    }
    // Iterators run once, each to its end, and then tracing ends.
    for p in &iterators {
        object
            .run_iterator(&p.program_name)
            .map_err(|e| fail(format!("{}: cannot run the iterator: {e}", p.attach_text)))?;
        rb.consume().ok();
        stop |= drain(&queue);
    }
    stop |= !iterators.is_empty();
    while !stop {
        rb.poll(100).ok();
        if USR1.swap(false, Ordering::SeqCst) {
            for prog in &on_usr1 {
                run_once(&object, prog)?;
            }
            rb.consume().ok();
        }
        stop |= drain(&queue);
        stop |= STOP.load(Ordering::SeqCst);
        if let Some(c) = &mut child {
            if c.exited() {
                // Collect what the probes sent while the command ran.
                rb.consume().ok();
                drain(&queue);
                stop = true;
            }
        }
        if let Some(pid) = options.pid {
            if !running(pid) {
                rb.consume().ok();
                drain(&queue);
                stop = true;
            }
        }
    }
    // Probes stop before END runs, as in bpftrace, so that END and the maps printed after
    // it see the final state; they are detached later, off the user's clock.
    stop_probes(&object, compiled);
    if !links.is_empty() {
        hand_off_detach();
    }
    drop(links);
    for prog in &end {
        run_once(&object, prog)?;
    }
    rb.consume().ok();
    drain(&queue);
    drop(child);

    let mut out = io::stdout().lock();
    let lost = lost_events(&object, compiled);
    let printed = compiled.settings.print_maps_on_exit;
    if printed {
        out.write_all(b"\n\n").ok();
    }
    for meta in compiled
        .maps
        .iter()
        .filter(|m| printed && m.script.is_some())
    {
        let text = print_map(&object, &symbols, meta, fmt, 0, 1, options.format).map_err(fail)?;
        out.write_all(text.as_bytes()).ok();
    }
    if lost > 0 {
        let text = match options.format {
            Format::Text => format!("Lost {lost} events\n"),
            Format::Json => crate::json::record("lost_events", &format!("{{\"events\": {lost}}}")),
        };
        out.write_all(text.as_bytes()).ok();
    }
    out.flush().ok();
    drop(rb);
    Ok(())
}

/// The monotonic clock in nanoseconds, as `bpf_ktime_get_ns()` reads it.
fn monotonic_nsecs() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Reads a script map and renders it as bpftrace prints it (see `output::format_map`).
fn print_map(
    object: &crate::libbpf::Object,
    symbols: &Resolver,
    meta: &probe_compiler::MapMeta,
    fmt: &dyn BuiltinFormat,
    top: u64,
    div: u64,
    format: Format,
) -> Result<String, String> {
    let fd = object
        .map_fd(&meta.object_name)
        .ok_or_else(|| format!("map {} is missing", meta.object_name))?;
    let mut entries = crate::maps::entries(fd, meta.key_size, meta.value_size, meta.per_cpu())
        .map_err(|e| format!("cannot read {}: {e}", meta.object_name))?;
    if meta.array() {
        // Every index of an array exists; the ones never set (or deleted) hold zero.
        entries.retain(|(_, values)| values.iter().flatten().any(|b| *b != 0));
    }
    Ok(output::format_map(
        meta,
        &entries,
        fmt,
        symbols,
        usize::try_from(top).unwrap_or(usize::MAX),
        div,
        format,
    ))
}

/// Detaching a tracepoint or perf event waits for an RCU grace period in the kernel (about
/// 70 ms here, most of a short run). A helper process inherits our descriptors and holds
/// them until we have exited, so the last close, and that wait, happen off the user's
/// clock; our own closes return at once. The helper leaves our process group and standard
/// streams at once, so neither Ctrl-C nor a reader of our output waits for it.
fn hand_off_detach() {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return;
    }
    io::stdout().flush().ok();
    // SAFETY: the child only calls async-signal-safe functions and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => unsafe {
            libc::setsid();
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::close(fds[1]);
            let mut b = 0u8;
            // Returns at end of file: when the parent, the only writer, has exited.
            libc::read(fds[0], &mut b as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        },
        -1 => {
            // SAFETY: closing the descriptors we just created.
            unsafe {
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
        }
        _ => {
            // The write end stays open until we exit; that is the helper's signal.
            // SAFETY: closing our copy of the read end.
            unsafe { libc::close(fds[0]) };
        }
    }
}

/// Runs a BEGIN or END program once.
/// `--test`: runs each `test:` probe once, in order, and reports as bpftrace does (the
/// output of a test that passes is not shown); true if every test passed.
fn run_tests(
    object: &crate::libbpf::Object,
    tests: &[(&str, &str)],
    collect: &mut dyn FnMut(&mut dyn Write),
) -> Result<bool, RunError> {
    const GREEN: &str = "\x1b[32m";
    const RED: &str = "\x1b[31m";
    const RESET: &str = "\x1b[0m";
    let plural = |n: usize| if n == 1 { "test" } else { "tests" };
    let mut out = io::stdout().lock();
    let mut failed = vec![];
    writeln!(
        out,
        "{GREEN}[==========]{RESET} Running {} tests.",
        tests.len()
    )
    .ok();
    for (name, prog) in tests {
        writeln!(out, "{GREEN}[ RUN      ]{RESET} {name}").ok();
        let fd = object
            .program_fd(prog)
            .ok_or_else(|| fail(format!("program {prog} is missing")))?;
        let (retval, ns) = crate::libbpf::test_run_repeated(fd, 1)
            .map_err(|e| fail(format!("cannot run test:{name}: {e}")))?;
        let mut output = Vec::new();
        collect(&mut output);
        let took = format_duration(u64::from(ns));
        if retval == 0 {
            writeln!(out, "{GREEN}[       OK ]{RESET} {name} ({took})").ok();
        } else {
            for line in String::from_utf8_lossy(&output)
                .lines()
                .filter(|l| !l.is_empty())
            {
                writeln!(out, "{line}").ok();
            }
            writeln!(out, "{RED}[  FAILED  ]{RESET} {name} ({took})").ok();
            failed.push(*name);
        }
    }
    let n = tests.len();
    writeln!(out, "{GREEN}[==========]{RESET} {n} {} ran.", plural(n)).ok();
    let passed = n - failed.len();
    writeln!(
        out,
        "{GREEN}[  PASSED  ]{RESET} {passed} {}.",
        plural(passed)
    )
    .ok();
    if !failed.is_empty() {
        writeln!(
            out,
            "{RED}[  FAILED  ]{RESET} {} {}, listed below:",
            failed.len(),
            plural(failed.len())
        )
        .ok();
        for name in &failed {
            writeln!(out, "{RED}[  FAILED  ]{RESET} {name}").ok();
        }
    }
    Ok(failed.is_empty())
}

/// A duration in the largest unit that keeps it at least 1: `250 ns`, `3 μs`, `12 ms`.
fn format_duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{} μs", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{} ms", ns / 1_000_000),
        _ => format!("{} s", ns / 1_000_000_000),
    }
}

/// `--bench`: runs each `bench:` probe enough times for a millisecond of work and prints
/// the average time of one run, in bpftrace's table.
fn run_benches(object: &crate::libbpf::Object, benches: &[(&str, &str)]) -> Result<(), RunError> {
    let width = benches
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max(40)
        + 1;
    let mut out = io::stdout().lock();
    writeln!(out, "{:<width$}{:<15}Iterations", "Benchmark", "Time(ns)").ok();
    writeln!(out, "{}", "-".repeat(width + 15 + "Iterations".len())).ok();
    for (name, prog) in benches {
        let fd = object
            .program_fd(prog)
            .ok_or_else(|| fail(format!("program {prog} is missing")))?;
        let mut iterations: u32 = 1;
        loop {
            let (retval, ns) = crate::libbpf::test_run_repeated(fd, iterations)
                .map_err(|e| fail(format!("cannot run bench:{name}: {e}")))?;
            // A benchmark that returns non-zero skips itself.
            if retval != 0 {
                break;
            }
            let total = u64::from(ns) * u64::from(iterations);
            let grow = match total {
                0..1_000 => 1000,
                1_000..10_000 => 100,
                10_000..100_000 => 10,
                100_000..1_000_000 => 2,
                _ => 1,
            };
            if grow == 1 || iterations >= u32::MAX / 1000 {
                writeln!(out, "{name:<width$}{ns:<15}{iterations}").ok();
                break;
            }
            iterations *= grow;
        }
    }
    writeln!(out, "\n").ok();
    Ok(())
}

fn run_once(object: &crate::libbpf::Object, prog: &str) -> Result<(), RunError> {
    let fd = object
        .program_fd(prog)
        .ok_or_else(|| fail(format!("program {prog} is missing")))?;
    crate::libbpf::test_run(fd, &[0u8; 8]).map_err(|e| fail(format!("cannot run {prog}: {e}")))?;
    Ok(())
}

/// Sets the flag in the control map that makes every probe return at once.
fn stop_probes(object: &crate::libbpf::Object, compiled: &CompiledProgram) {
    let meta = &compiled.maps[compiled.control as usize];
    if let Some(fd) = object.map_fd(&meta.object_name) {
        crate::maps::update(fd, &0u32.to_le_bytes(), &1u64.to_le_bytes()).ok();
    }
}

fn lost_events(object: &crate::libbpf::Object, compiled: &CompiledProgram) -> u64 {
    let meta = &compiled.maps[compiled.lost_events as usize];
    object
        .map_fd(&meta.object_name)
        .and_then(|fd| {
            crate::maps::lookup(fd, &0u32.to_le_bytes(), 8)
                .ok()
                .flatten()
        })
        .map(|v| u64::from_le_bytes(v[..8].try_into().unwrap_or([0; 8])))
        .unwrap_or(0)
}

/// The one-line report of a failed load: which probe, and the verifier's reason.
pub fn load_error(e: &LoadError, compiled: &CompiledProgram) -> RunError {
    let which = e
        .program
        .as_ref()
        .and_then(|name| compiled.probes.iter().find(|p| &p.program_name == name))
        .map(|p| format!(" for {}", p.attach_text))
        .unwrap_or_default();
    if e.errno == libc::EPERM {
        return fail(format!(
            "cannot load BPF programs: {}; run probe as root (it needs CAP_BPF and CAP_PERFMON)",
            e.message
        ));
    }
    let reason = verifier_reason(&e.log).unwrap_or_else(|| e.message.clone());
    fail(format!(
        "the kernel rejected the BPF program{which}: {reason} (probe -v shows the verifier log)"
    ))
}

/// The line of the verifier log that says why it refused: the last line of the log
/// libbpf quotes, skipping the kernel's closing statistics.
fn verifier_reason(log: &str) -> Option<String> {
    let body = match (
        log.find("-- BEGIN PROG LOAD LOG --"),
        log.find("-- END PROG LOAD LOG --"),
    ) {
        (Some(a), Some(b)) if a < b => &log[a + "-- BEGIN PROG LOAD LOG --".len()..b],
        _ => log,
    };
    body.lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with("libbpf:")
        })
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_like_a_shell() {
        assert_eq!(
            split_command("dd if=/dev/zero bs=1").unwrap(),
            ["dd", "if=/dev/zero", "bs=1"]
        );
        assert_eq!(
            split_command("sh -c 'echo a b' \"x y\" z\\ w").unwrap(),
            ["sh", "-c", "echo a b", "x y", "z w"]
        );
        assert!(split_command("echo 'oops").is_err());
    }

    #[test]
    fn finds_the_verifier_reason() {
        let log = "0: (bf) r6 = r1\n1: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 2 insns (limit 1000000)\n";
        assert_eq!(verifier_reason(log).as_deref(), Some("R2 !read_ok"));
        let quoted = format!("libbpf: prog 'x': BPF program load failed: Permission denied\nlibbpf: prog 'x': -- BEGIN PROG LOAD LOG --\n{log}-- END PROG LOAD LOG --\nlibbpf: failed to load object 'probe'\n");
        assert_eq!(verifier_reason(&quoted).as_deref(), Some("R2 !read_ok"));
    }

    #[test]
    fn first_match_on_path_wins() {
        assert!(resolve("sh").is_some());
        assert!(resolve("no-such-program-here").is_none());
    }
}
