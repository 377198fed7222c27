//! Attach points: what a probe's `kind:target` text means.

use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// A resolved attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachKind {
    /// `BEGIN`: runs once before any other probe fires.
    Begin,
    /// `END`: runs once when tracing stops.
    End,
    /// `self:signal:SIGUSR1`: runs each time probe receives SIGUSR1.
    Signal,
    /// `test:name`: with `--test`, runs once; it passes if it returns 0.
    Test { name: String },
    /// `bench:name`: with `--bench`, runs many times to time it.
    Bench { name: String },
    /// `tracepoint:category:event` (short `t:`).
    Tracepoint { category: String, event: String },
    /// `kprobe:[module:]function[+offset]` / `kretprobe:[module:]function` (short `k:`,
    /// `kr:`); the module only says where the function is.
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N` (short `i:`): every period on one CPU.
    Interval { period_ns: u64 },
    /// `fentry:function` / `fexit:function` (short `f:`, `fr:`): a kernel function's entry or
    /// return through a BPF trampoline; `args` are its parameters, typed from BTF, and
    /// `nargs` how many there are (the checker fills it in).
    Fentry {
        function: String,
        ret: bool,
        nargs: u32,
    },
    /// `uprobe:binary:function[+offset]` / `uretprobe:...` (short `u:`, `ur:`): a user-space
    /// function's entry or return; the binary is a path, or a name looked up in `PATH` and
    /// the library directories. An empty `function` means `offset` is an address in the
    /// binary (`uprobe:/bin/x:0x401000`).
    Uprobe {
        binary: String,
        function: String,
        offset: u64,
        ret: bool,
    },
    /// `iter:task`, `iter:task_file`, `iter:task_vma` (short `it:`): runs once for each task
    /// (each open file, each memory map) and then tracing ends; `ctx` points to the
    /// kernel's `struct bpf_iter__<target>`.
    Iter { target: String },
    /// `usdt:binary:[provider:]name` (short `U:`): a user-space static probe; `probe` is
    /// what its note says (the checker fills it in, one place per note).
    Usdt {
        binary: String,
        provider: Option<String>,
        name: String,
        probe: Option<Box<crate::symbols::UsdtProbe>>,
    },
    /// `rawtracepoint:event` (short `rt:`): a kernel tracepoint's raw arguments.
    RawTracepoint { event: String },
    /// `profile:hz:N`, `profile:s:N`, ... (short `p:`): every period on every CPU.
    Profile { period_ns: u64 },
    /// `software:event:count` (short `s:`): every `count` occurrences of a kernel software
    /// event, on every CPU.
    Software { event: PerfEvent, count: u64 },
    /// `hardware:event:count` (short `h:`): every `count` occurrences of a hardware event,
    /// on every CPU.
    Hardware { event: PerfEvent, count: u64 },
}

/// A perf event by bpftrace's name for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfEvent {
    /// The name as bpftrace spells it.
    pub name: &'static str,
    /// Its short alias, if it has one.
    pub alias: Option<&'static str>,
    /// The kernel's `perf_event_attr.config` for it.
    pub config: u64,
    /// The sampling count when the attach point gives none.
    pub default_count: u64,
}

const fn event(
    name: &'static str,
    alias: Option<&'static str>,
    config: u64,
    default_count: u64,
) -> PerfEvent {
    PerfEvent {
        name,
        alias,
        config,
        default_count,
    }
}

/// The software events (`PERF_TYPE_SOFTWARE`).
pub const SOFTWARE_EVENTS: [PerfEvent; 11] = [
    event("cpu-clock", Some("cpu"), 0, 1_000_000),
    event("task-clock", None, 1, 1_000_000),
    event("page-faults", Some("faults"), 2, 100),
    event("context-switches", Some("cs"), 3, 1_000),
    event("cpu-migrations", None, 4, 1),
    event("minor-faults", None, 5, 100),
    event("major-faults", None, 6, 1),
    event("alignment-faults", None, 7, 1),
    event("emulation-faults", None, 8, 1),
    event("dummy", None, 9, 1),
    event("bpf-output", None, 10, 1),
];

/// The hardware events (`PERF_TYPE_HARDWARE`).
pub const HARDWARE_EVENTS: [PerfEvent; 10] = [
    event("cpu-cycles", Some("cycles"), 0, 1_000_000),
    event("instructions", None, 1, 1_000_000),
    event("cache-references", None, 2, 1_000_000),
    event("cache-misses", None, 3, 1_000_000),
    event("branch-instructions", Some("branches"), 4, 100_000),
    event("branch-misses", None, 5, 100_000),
    event("bus-cycles", None, 6, 100_000),
    event("frontend-stalls", None, 7, 1_000_000),
    event("backend-stalls", None, 8, 1_000_000),
    event("ref-cycles", None, 9, 1_000_000),
];

/// A period `unit:N` (`hz`, `s`, `ms`, `us`) in nanoseconds, or what is wrong with it.
fn period(unit: &str, count: &str) -> Result<u64, &'static str> {
    let n: u64 = count
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or("s|ms|us|hz:N with N > 0")?;
    match unit {
        "hz" => Some(1_000_000_000 / n).filter(|p| *p > 0),
        "s" => n.checked_mul(1_000_000_000),
        "ms" => n.checked_mul(1_000_000),
        "us" => n.checked_mul(1_000),
        _ => return Err("s|ms|us|hz:N"),
    }
    .ok_or("a period between 1 ns and 584 years")
}

impl AttachKind {
    /// Parses the text of one attach point.
    pub fn parse(text: &str, span: Span) -> Result<AttachKind, Diagnostic> {
        let parts: Vec<&str> = text.split(':').collect();
        let bad = |what: &str, usage: &str| {
            let example = match what {
                "tracepoint" => "tracepoint:syscalls:sys_enter_read",
                "interval" => "interval:s:1 or interval:hz:10",
                "profile" => "profile:hz:99",
                "rawtracepoint" => "rawtracepoint:sys_enter",
                "software" => "software:page-faults:100",
                "uprobe" => "uprobe:/bin/bash:readline or uprobe:libc:malloc",
                "uretprobe" => "uretprobe:/bin/bash:readline",
                "self" => "self:signal:SIGUSR1 (the only signal bpftrace defines)",
                "fentry" => "fentry:vfs_read",
                "test" => "test:parses_ok",
                "bench" => "bench:count",
                "iter" => "iter:task",
                "usdt" => "usdt:/usr/bin/python3:python:function__entry",
                "fexit" => "fexit:vfs_read",
                "hardware" => "hardware:cycles:1000000",
                _ => "kprobe:vfs_read",
            };
            Diagnostic::error(span, format!("invalid {what} attach point `{text}`"))
                .with_label(format!("expected `{usage}`"))
                .with_note(format!("for example {example}"))
        };
        // `kind:` before a period's form; a range stands alone.
        let usage = |kind: &str, why: &str| {
            if why.starts_with("a period") {
                why.to_string()
            } else {
                format!("{kind}:{why}")
            }
        };
        match parts[0] {
            "BEGIN" | "begin" if parts.len() == 1 => Ok(AttachKind::Begin),
            "END" | "end" if parts.len() == 1 => Ok(AttachKind::End),
            special @ ("BEGIN" | "begin" | "END" | "end") => Err(Diagnostic::error(
                span,
                format!("`{special}` takes no target"),
            )
            .with_label(format!("write just `{special}`"))),
            kind @ ("test" | "bench") => match parts[..] {
                [_, name] if !name.is_empty() => Ok(if kind == "test" {
                    AttachKind::Test { name: name.into() }
                } else {
                    AttachKind::Bench { name: name.into() }
                }),
                _ => Err(bad(kind, &format!("{kind}:name"))),
            },
            "self" => match parts[..] {
                [_, "signal", "SIGUSR1"] => Ok(AttachKind::Signal),
                _ => Err(bad("self", "self:signal:SIGUSR1")),
            },
            "tracepoint" | "t" => match parts[..] {
                [_, category, event] if !category.is_empty() && !event.is_empty() => {
                    Ok(AttachKind::Tracepoint {
                        category: category.into(),
                        event: event.into(),
                    })
                }
                _ => Err(bad("tracepoint", "tracepoint:category:event")),
            },
            kind @ ("kprobe" | "k" | "kretprobe" | "kr") => {
                let ret = kind.starts_with("kr");
                let long = if ret { "kretprobe" } else { "kprobe" };
                let target = match parts[..] {
                    [_, target] | [_, _, target] if !target.is_empty() => target,
                    _ => return Err(bad(long, &format!("{long}:function"))),
                };
                let (function, offset) = match target.split_once('+') {
                    Some((f, off)) if !ret => {
                        let off = off
                            .strip_prefix("0x")
                            .map_or_else(|| off.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
                            .ok_or_else(|| bad(long, "kprobe:function+offset"))?;
                        (f, off)
                    }
                    Some(_) => return Err(bad(long, "kretprobe:function (no offset)")),
                    None => (target, 0),
                };
                Ok(AttachKind::Kprobe {
                    function: function.into(),
                    offset,
                    ret,
                })
            }
            "interval" | "i" => match parts[..] {
                [_, unit, count] => period(unit, count)
                    .map(|period_ns| AttachKind::Interval { period_ns })
                    .map_err(|why| bad("interval", &usage("interval", why))),
                _ => Err(bad("interval", "interval:s|ms|us|hz:N")),
            },
            "profile" | "p" => match parts[..] {
                [_, unit, count] => period(unit, count)
                    .map(|period_ns| AttachKind::Profile { period_ns })
                    .map_err(|why| bad("profile", &usage("profile", why))),
                _ => Err(bad("profile", "profile:s|ms|us|hz:N")),
            },
            kind @ ("fentry" | "f" | "fexit" | "fr") => {
                let ret = matches!(kind, "fexit" | "fr");
                let long = if ret { "fexit" } else { "fentry" };
                match parts[..] {
                    [_, function] | [_, _, function] if !function.is_empty() => {
                        Ok(AttachKind::Fentry {
                            function: function.into(),
                            ret,
                            nargs: 0,
                        })
                    }
                    _ => Err(bad(long, &format!("{long}:function"))),
                }
            }
            kind @ ("uprobe" | "u" | "uretprobe" | "ur") => {
                let long = if kind.starts_with("ur") {
                    "uretprobe"
                } else {
                    "uprobe"
                };
                let [_, binary, target] = parts[..] else {
                    return Err(bad(long, &format!("{long}:binary:function")));
                };
                let (function, offset) = match target.split_once('+') {
                    Some((f, off)) => {
                        let off = off
                            .strip_prefix("0x")
                            .map_or_else(|| off.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
                            .ok_or_else(|| bad(long, &format!("{long}:binary:function+offset")))?;
                        (f, off)
                    }
                    None => (target, 0),
                };
                if binary.is_empty() || function.is_empty() {
                    return Err(bad(long, &format!("{long}:binary:function")));
                }
                // An address instead of a function: `uprobe:/bin/x:0x401000`.
                if function.starts_with(|c: char| c.is_ascii_digit()) {
                    let address = function
                        .strip_prefix("0x")
                        .map_or_else(
                            || function.parse().ok(),
                            |h| u64::from_str_radix(h, 16).ok(),
                        )
                        .filter(|_| offset == 0)
                        .ok_or_else(|| bad(long, &format!("{long}:binary:0xADDRESS")))?;
                    return Ok(AttachKind::Uprobe {
                        binary: binary.into(),
                        function: String::new(),
                        offset: address,
                        ret: long == "uretprobe",
                    });
                }
                Ok(AttachKind::Uprobe {
                    binary: binary.into(),
                    function: function.into(),
                    offset,
                    ret: long == "uretprobe",
                })
            }
            "usdt" | "U" => match parts[..] {
                [_, binary, name] if !binary.is_empty() && !name.is_empty() => {
                    Ok(AttachKind::Usdt {
                        binary: binary.into(),
                        provider: None,
                        name: name.into(),
                        probe: None,
                    })
                }
                [_, binary, provider, name] if !binary.is_empty() && !name.is_empty() => {
                    Ok(AttachKind::Usdt {
                        binary: binary.into(),
                        provider: Some(provider.into()),
                        name: name.into(),
                        probe: None,
                    })
                }
                _ => Err(bad("usdt", "usdt:binary:[provider:]name")),
            },
            "iter" | "it" => match parts[..] {
                [_, target @ ("task" | "task_file" | "task_vma")] => Ok(AttachKind::Iter {
                    target: target.into(),
                }),
                _ => Err(bad("iter", "iter:task, iter:task_file or iter:task_vma")),
            },
            "rawtracepoint" | "rt" => match parts[..] {
                [_, event] | [_, _, event] if !event.is_empty() => Ok(AttachKind::RawTracepoint {
                    event: event.into(),
                }),
                _ => Err(bad("rawtracepoint", "rawtracepoint:event")),
            },
            kind @ ("software" | "s" | "hardware" | "h") => {
                let hardware = kind.starts_with('h');
                let (events, long) = if hardware {
                    (&HARDWARE_EVENTS[..], "hardware")
                } else {
                    (&SOFTWARE_EVENTS[..], "software")
                };
                let (name, count) = match parts[..] {
                    [_, name] => (name, None),
                    [_, name, count] => (name, Some(count)),
                    _ => return Err(bad(long, &format!("{long}:event:count"))),
                };
                let Some(event) = events
                    .iter()
                    .find(|e| e.name == name || e.alias == Some(name))
                    .copied()
                else {
                    let names: Vec<&str> = events.iter().map(|e| e.name).collect();
                    return Err(
                        Diagnostic::error(span, format!("unknown {long} event `{name}`"))
                            .with_label("not an event of this kind")
                            .with_note(format!("{long} events: {}", names.join(", "))),
                    );
                };
                let count = match count {
                    None => event.default_count,
                    Some(c) => c
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(long, &format!("{long}:event:N with N > 0")))?,
                };
                Ok(if hardware {
                    AttachKind::Hardware { event, count }
                } else {
                    AttachKind::Software { event, count }
                })
            }
            _ => Err(
                Diagnostic::error(span, format!("unknown probe kind `{}`", parts[0]))
                    .with_label("not a probe kind")
                    .with_note(
                        "supported here: BEGIN, END, self:signal:SIGUSR1, test:name, bench:name, \
                         tracepoint:category:event, \
                         rawtracepoint:event, kprobe:function, kretprobe:function, \
                         fentry:function, fexit:function, iter:task, usdt:binary:name, \
                         uprobe:binary:function, uretprobe:binary:function, \
                         interval:s|ms|us|hz:N, profile:s|ms|us|hz:N, software:event:N, \
                         hardware:event:N",
                    ),
            ),
        }
    }

    /// Bytes of context a program of this kind may read (0 where it has none to read, and
    /// for tracepoints, whose record size comes from their format): a raw tracepoint's
    /// twelve 64-bit arguments, a kprobe's `pt_regs`, a perf event's `bpf_perf_event_data`.
    pub fn context_size(&self) -> u32 {
        match self {
            AttachKind::RawTracepoint { .. } => 96,
            AttachKind::Kprobe { .. } | AttachKind::Uprobe { .. } | AttachKind::Usdt { .. } => 168,
            // The arguments, then the return value.
            AttachKind::Fentry { nargs, .. } => 8 * (nargs + 1),
            // `struct bpf_iter__<target>`: meta, task, then (task_file) fd and file, or
            // (task_vma) vma.
            AttachKind::Iter { target } => match target.as_str() {
                "task" => 16,
                "task_vma" => 24,
                _ => 32,
            },
            AttachKind::Interval { .. }
            | AttachKind::Profile { .. }
            | AttachKind::Software { .. }
            | AttachKind::Hardware { .. } => 184,
            AttachKind::Begin
            | AttachKind::End
            | AttachKind::Signal
            | AttachKind::Test { .. }
            | AttachKind::Bench { .. }
            | AttachKind::Tracepoint { .. } => 0,
        }
    }

    /// True for probes that fire in whatever process runs when the event happens (so `-p`
    /// keeps only those of its process); not for uprobes, which attach to the process, nor
    /// for BEGIN, END, timers and iterators.
    pub fn fires_in_any_process(&self) -> bool {
        matches!(
            self,
            AttachKind::Tracepoint { .. }
                | AttachKind::RawTracepoint { .. }
                | AttachKind::Kprobe { .. }
                | AttachKind::Fentry { .. }
                | AttachKind::Profile { .. }
                | AttachKind::Software { .. }
                | AttachKind::Hardware { .. }
        )
    }

    /// True for probes the kernel fires as events happen, as opposed to those probe runs
    /// itself (BEGIN, END, `self:signal`, `test:`, `bench:`, iterators).
    pub fn fires_on_its_own(&self) -> bool {
        !matches!(
            self,
            AttachKind::Begin
                | AttachKind::End
                | AttachKind::Signal
                | AttachKind::Test { .. }
                | AttachKind::Bench { .. }
                | AttachKind::Iter { .. }
        )
    }

    /// True for a tracepoint whose category or event, or a uprobe whose function, holds a
    /// wildcard (`*`, `?`).
    pub fn is_wildcard(&self) -> bool {
        match self {
            AttachKind::Tracepoint { category, event } => {
                (category.clone() + event).contains(['*', '?'])
            }
            AttachKind::Uprobe { function, .. }
            | AttachKind::Kprobe { function, .. }
            | AttachKind::Fentry { function, .. } => function.contains(['*', '?']),
            _ => false,
        }
    }

    /// The attach point as written in a script.
    pub fn text(&self) -> String {
        match self {
            AttachKind::Begin => "BEGIN".into(),
            AttachKind::End => "END".into(),
            AttachKind::Signal => "self:signal:SIGUSR1".into(),
            AttachKind::Test { name } => format!("test:{name}"),
            AttachKind::Bench { name } => format!("bench:{name}"),
            AttachKind::Tracepoint { category, event } => format!("tracepoint:{category}:{event}"),
            AttachKind::Kprobe {
                function,
                offset: 0,
                ret: false,
            } => format!("kprobe:{function}"),
            AttachKind::Kprobe {
                function,
                offset,
                ret: false,
            } => format!("kprobe:{function}+{offset}"),
            AttachKind::Kprobe {
                function,
                ret: true,
                ..
            } => format!("kretprobe:{function}"),
            AttachKind::Interval { period_ns } => format!("interval:us:{}", period_ns / 1000),
            AttachKind::RawTracepoint { event } => format!("rawtracepoint:{event}"),
            AttachKind::Iter { target } => format!("iter:{target}"),
            AttachKind::Usdt {
                binary,
                provider,
                name,
                probe,
            } => {
                let provider = provider
                    .clone()
                    .or_else(|| probe.as_ref().map(|p| p.provider.clone()));
                match provider {
                    Some(p) => format!("usdt:{binary}:{p}:{name}"),
                    None => format!("usdt:{binary}:{name}"),
                }
            }
            AttachKind::Fentry { function, ret, .. } => {
                format!("{}:{function}", if *ret { "fexit" } else { "fentry" })
            }
            AttachKind::Uprobe {
                binary,
                function,
                offset,
                ret,
            } => {
                let kind = if *ret { "uretprobe" } else { "uprobe" };
                match offset {
                    _ if function.is_empty() => format!("{kind}:{binary}:{offset:#x}"),
                    0 => format!("{kind}:{binary}:{function}"),
                    n => format!("{kind}:{binary}:{function}+{n}"),
                }
            }
            AttachKind::Profile { period_ns } => format!("profile:us:{}", period_ns / 1000),
            AttachKind::Software { event, count } => format!("software:{}:{count}", event.name),
            AttachKind::Hardware { event, count } => format!("hardware:{}:{count}", event.name),
        }
    }

    /// A stable name for the program that implements this attach point.
    pub fn program_name(&self) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        };
        match self {
            AttachKind::Begin => "BEGIN".into(),
            AttachKind::End => "END".into(),
            AttachKind::Signal => "self_signal_SIGUSR1".into(),
            AttachKind::Test { name } => format!("test_{}", clean(name)),
            AttachKind::Bench { name } => format!("bench_{}", clean(name)),
            AttachKind::Tracepoint { category, event } => {
                format!("tracepoint_{}_{}", clean(category), clean(event))
            }
            AttachKind::Kprobe {
                function,
                offset,
                ret: false,
            } => match offset {
                0 => format!("kprobe_{}", clean(function)),
                n => format!("kprobe_{}_{n}", clean(function)),
            },
            AttachKind::Kprobe {
                function,
                ret: true,
                ..
            } => format!("kretprobe_{}", clean(function)),
            AttachKind::Interval { period_ns } => format!("interval_{period_ns}ns"),
            AttachKind::RawTracepoint { event } => format!("rawtracepoint_{}", clean(event)),
            AttachKind::Iter { target } => format!("iter_{target}"),
            AttachKind::Usdt { name, probe, .. } => format!(
                "usdt_{}_{:x}",
                clean(name),
                probe.as_ref().map_or(0, |p| p.file_offset)
            ),
            AttachKind::Fentry { function, ret, .. } => {
                format!(
                    "{}_{}",
                    if *ret { "fexit" } else { "fentry" },
                    clean(function)
                )
            }
            AttachKind::Uprobe {
                binary,
                function,
                ret,
                ..
            } => {
                let base = binary.rsplit('/').next().unwrap_or(binary);
                let kind = if *ret { "uretprobe" } else { "uprobe" };
                format!("{kind}_{}_{}", clean(base), clean(function))
            }
            AttachKind::Profile { period_ns } => format!("profile_{period_ns}ns"),
            AttachKind::Software { event, count } => {
                format!("software_{}_{count}", clean(event.name))
            }
            AttachKind::Hardware { event, count } => {
                format!("hardware_{}_{count}", clean(event.name))
            }
        }
    }
}
