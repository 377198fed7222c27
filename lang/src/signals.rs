//! Linux signals by name and number (x86-64), for `signal("KILL")` and `signal_name()`.

/// Signal names and numbers on Linux x86-64.
pub const SIGNALS: [(&str, i64); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// The number of signal `name`, written with or without `SIG`.
pub fn number(name: &str) -> Option<i64> {
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// The name of signal `n` (`SIGKILL`), `SIGRTMIN+k` for real-time signals.
pub fn name(n: i64) -> Option<String> {
    match SIGNALS.iter().find(|(_, v)| *v == n) {
        Some((name, _)) => Some(format!("SIG{name}")),
        None if (32..=64).contains(&n) => Some(format!("SIGRTMIN+{}", n - 32)),
        None => None,
    }
}
