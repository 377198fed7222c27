//! Every script in `examples/` run on the real kernel (root) while a command makes the
//! events it traces, with its output checked: the header it prints, its map names, the
//! traced command's name in its lines and keys, histogram buckets where the command
//! decides them. A script in `examples/` without a case here fails the test.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// How one example is run and what its output must show.
struct Case {
    script: &'static str,
    /// Arguments after the script (usually `-c CMD`).
    args: Vec<String>,
    /// A file to give the traced command as standard input.
    stdin: Option<PathBuf>,
    check: fn(&str),
}

fn case(script: &'static str, command: &str, check: fn(&str)) -> Case {
    Case {
        script,
        args: vec!["-c".into(), command.into()],
        stdin: None,
        check,
    }
}

/// The number after `KEY: ` on the line for `KEY` (`@opens[head]`), if there is one.
fn value(out: &str, key: &str) -> Option<i64> {
    let prefix = format!("{key}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key} is not a number: {v}\n{out}"))
        })
}

/// The number for `KEY`, which must be printed.
fn must_value(out: &str, key: &str) -> i64 {
    value(out, key).unwrap_or_else(|| panic!("no `{key}: N` line in:\n{out}"))
}

/// The buckets of the histogram printed for `KEY` (`@usecs`, `@read_bytes[dd]`): each
/// bucket's label (`[4K, 8K)`) and count. Panics when the histogram is not printed or a
/// bucket line is not `[label] count |@@@ |`.
fn hist(out: &str, key: &str) -> Vec<(String, u64)> {
    let header = format!("{key}: ");
    let mut lines = out.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no histogram {key} in:\n{out}");
    let buckets: Vec<(String, u64)> = lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let end = l.find([')', ']']).expect("a bucket label") + 1;
            let (label, rest) = l.split_at(end);
            let count = rest.split_whitespace().next().expect("a count");
            assert!(
                l.starts_with('[') && l.ends_with('|') && rest.contains('|'),
                "not a bucket line: {l:?}\n{out}"
            );
            (label.to_string(), count.parse().expect("a bucket count"))
        })
        .collect();
    assert!(
        !buckets.is_empty(),
        "histogram {key} has no buckets:\n{out}"
    );
    buckets
}

fn total(buckets: &[(String, u64)]) -> u64 {
    buckets.iter().map(|(_, n)| n).sum()
}

/// The count in the bucket labelled `label` (0 if the histogram does not print it).
fn bucket(buckets: &[(String, u64)], label: &str) -> u64 {
    buckets
        .iter()
        .find(|(l, _)| l == label)
        .map_or(0, |(_, n)| *n)
}

/// The lines whose whitespace-separated columns satisfy `f`.
fn rows(out: &str, f: impl Fn(&[&str]) -> bool) -> Vec<Vec<&str>> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| f(c))
        .collect()
}

/// The output must begin with `Attaching N probes...`, and show `header` (printed by
/// BEGIN) on a line of its own: the probes are attached before BEGIN runs, so lines of
/// processes busy at that moment may come first.
fn assert_header(out: &str, probes: usize, header: &str) {
    let attaching = if probes == 1 {
        "Attaching 1 probe...".to_string()
    } else {
        format!("Attaching {probes} probes...")
    };
    assert_eq!(out.lines().next(), Some(attaching.as_str()), "{out}");
    if !header.is_empty() {
        assert!(
            out.lines().any(|l| l == header),
            "no header {header:?}:\n{out}"
        );
    }
}

fn check_read_count(out: &str) {
    assert_header(out, 1, "");
    let n = must_value(out, "@[dd]");
    assert!((1000..1020).contains(&n), "dd read {n} times:\n{out}");
}

fn check_heartbeat(out: &str) {
    assert_header(out, 3, "CPU  NSECS");
    let beats = rows(out, |c| {
        c.len() == 2 && c.iter().all(|w| w.parse::<u64>().is_ok())
    })
    .len();
    assert!((4..=6).contains(&beats), "{beats} beats:\n{out}");
    assert_eq!(must_value(out, "@beats"), beats as i64, "{out}");
}

fn check_syscount(out: &str) {
    assert_header(out, 2, "Tracing syscalls... Hit Ctrl-C to end.");
    // 500 reads and 500 writes of one byte, plus dd's startup.
    let dd = must_value(out, "@by_process[dd]");
    assert!((1000..1500).contains(&dd), "{out}");
    assert!(must_value(out, "@by_syscall[0]") >= 500, "{out}");
    assert!(must_value(out, "@by_syscall[1]") >= 500, "{out}");
}

fn check_rwsize(out: &str) {
    assert_header(out, 4, "");
    // 100 blocks of 4 KiB read and written; dd's startup reads are smaller.
    let reads = hist(out, "@read_bytes[dd]");
    assert!((100..=102).contains(&bucket(&reads, "[4K, 8K)")), "{out}");
    let writes = hist(out, "@write_bytes[dd]");
    assert_eq!(bucket(&writes, "[4K, 8K)"), 100, "{out}");
    // cat's read of a directory fails with EISDIR.
    assert!(must_value(out, "@errors[cat]") >= 1, "{out}");
}

fn check_biolatency(out: &str) {
    // dd writes with O_DIRECT to a file under Cargo's target directory, so each block
    // goes to the disk as a request: block_rq_issue and block_rq_complete fire (they do
    // on this machine's virtio disk). A target directory on tmpfs would see no requests.
    assert_header(out, 3, "");
    let all = hist(out, "@usecs");
    assert!(
        total(&all) >= 64,
        "64 direct writes, {} seen:\n{out}",
        total(&all)
    );
    // dd's direct writes are WS (write, sync) on ext4; other writers may add W... keys.
    let writes: u64 = out
        .lines()
        .filter(|l| l.starts_with("@usecs_by_type[W"))
        .map(|l| total(&hist(out, l.trim_end_matches(": "))))
        .sum();
    assert!(writes >= 64, "{writes} writes:\n{out}");
    let bytes: i64 = rows(out, |c| c.len() == 2 && c[0].starts_with("@bytes["))
        .iter()
        .map(|c| c[1].parse::<i64>().expect("bytes"))
        .sum();
    assert!(bytes >= 64 * 65536, "{bytes} bytes:\n{out}");
    assert!(!out.contains("@start") && !out.contains("@type"), "{out}");
}

fn check_runqlat(out: &str) {
    assert_header(out, 4, "");
    assert!(total(&hist(out, "@runq_usecs")) >= 2, "{out}");
    // Each sleep is woken once its time is up, and waits for a CPU after that.
    must_value(out, "@max_wait_usecs[sleep]");
    assert!(!out.contains("@woken"), "{out}");
}

fn check_opensnoop(out: &str) {
    assert_header(
        out,
        4,
        "PID     COMM             UID    USER         FD PATH",
    );
    // The tests run as root.
    let ok = rows(out, |c| {
        c.len() == 6 && c[1] == "head" && c[5] == "/etc/hostname"
    });
    assert_eq!(ok.len(), 1, "{out}");
    assert_eq!(ok[0][2..4], ["0", "root"], "uid and user:\n{out}");
    assert!(ok[0][4].parse::<i32>().expect("an fd") >= 0, "{out}");
    // A failed open shows -errno and the error after the path.
    let missing = rows(out, |c| {
        c.len() > 6 && c[1] == "head" && c[5] == "/nonexistent-probe-example:"
    });
    assert_eq!(missing.len(), 1, "{out}");
    assert_eq!(missing[0][4], "-2", "ENOENT:\n{out}");
    assert_eq!(
        missing[0][6..].join(" "),
        "No such file or directory",
        "{out}"
    );
    assert_eq!(ok[0][0], missing[0][0], "one head process:\n{out}");
    assert!(must_value(out, "@opens[head]") >= 2, "{out}");
    assert!(
        must_value(out, "@failed[head, No such file or directory]") >= 1,
        "{out}"
    );
    assert!(!out.contains("@path"), "{out}");
}

/// `HH:MM:SS`.
fn is_clock_time(s: &str) -> bool {
    s.len() == 8
        && s.char_indices().all(|(i, ch)| {
            if i == 2 || i == 5 {
                ch == ':'
            } else {
                ch.is_ascii_digit()
            }
        })
}

fn check_execsnoop(out: &str) {
    assert_header(
        out,
        5,
        "TIME     MS     PID     PPID    COMM             ARGS",
    );
    // probe's child runs `sh -c '...'`: the arguments follow the name it had.
    let sh = rows(out, |c| {
        c.len() > 7 && c[4] == "probe" && c[5] == "sh" && c[6] == "-c" && c[7] == "ls"
    });
    assert_eq!(sh.len(), 1, "probe starts sh:\n{out}");
    assert!(is_clock_time(sh[0][0]), "a time: {:?}\n{out}", sh[0]);
    let ms: u64 = sh[0][1].parse().expect("milliseconds");
    assert!(ms < 30_000, "{out}");
    let ls = rows(out, |c| {
        c.len() == 8 && c[4] == "sh" && c[5..] == ["ls", "-l", "/"]
    });
    assert_eq!(ls.len(), 1, "sh starts ls with its arguments:\n{out}");
    assert_eq!(ls[0][3], sh[0][2], "ls's parent is the sh:\n{out}");
    // The exec of a missing program: its arguments, then the error.
    let tried = rows(out, |c| {
        c.len() == 7 && c[4] == "sh" && c[5..] == ["/nonexistent-probe-example", "arg"]
    });
    assert_eq!(tried.len(), 1, "{out}");
    let failed = rows(out, |c| {
        c.len() > 6 && c[4] == "sh" && c[5] == "/nonexistent-probe-example:"
    });
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(
        failed[0][6..].join(" "),
        "No such file or directory",
        "{out}"
    );
    assert_eq!(failed[0][2], tried[0][2], "{out}");
    assert_eq!(tried[0][3], sh[0][2], "{out}");
    let ls_execs: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("@execs[") && l.ends_with("/ls]: 1"))
        .collect();
    assert_eq!(ls_execs.len(), 1, "{out}");
    assert!(
        must_value(out, "@failed[No such file or directory]") >= 1,
        "{out}"
    );
    assert!(!out.contains("@path"), "{out}");
}

/// For IPv4 and IPv6 in turn: listens on a free port of the loopback address, prints
/// it, connects to it, closes both ends. The port's line is one write(2), so that probe's
/// lines, which share the pipe, cannot land in the middle of it (print() may write it in
/// pieces).
const TCP_PY: &str = "import os, socket
for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    s = socket.socket(family)
    s.bind((host, 0))
    s.listen(1)
    port = s.getsockname()[1]
    os.write(1, f'port {host} {port}\\n'.encode())
    c = socket.create_connection((host, port))
    a, _ = s.accept()
    c.close()
    a.close()
    s.close()
";

fn check_tcpstates(out: &str) {
    assert_header(
        out,
        3,
        "SKADDR             COMM             LADDR           LPORT RADDR           RPORT OLD            NEW         MS",
    );
    for (addr, any) in [("127.0.0.1", "0.0.0.0"), ("::1", "::")] {
        let port = rows(out, |c| c.len() == 3 && c[0] == "port" && c[1] == addr)
            .first()
            .unwrap_or_else(|| panic!("python did not print its {addr} port:\n{out}"))[2];
        // The one change of a socket on `addr` with these ports (`*`: any) and states.
        let change = |lport: &str, raddr: &str, rport: &str, old: &str, new: &str| {
            let found = rows(out, |c| {
                c.len() == 10
                    && c[0].starts_with("0x")
                    && c[2] == addr
                    && (lport == "*" || c[3] == lport)
                    && c[4] == raddr
                    && (rport == "*" || c[5] == rport)
                    && c[6] == old
                    && c[8] == new
            });
            assert_eq!(
                found.len(),
                1,
                "{addr}:{lport} {raddr}:{rport} {old} -> {new}:\n{out}"
            );
            found[0].clone()
        };
        change(port, any, "0", "CLOSE", "LISTEN");
        change(port, any, "0", "LISTEN", "CLOSE");
        let client = change("*", addr, port, "SYN_SENT", "ESTABLISHED");
        let client = client[3];
        assert!(client != "0" && client != port, "{out}");
        change(port, addr, client, "SYN_RECV", "ESTABLISHED");
        change(client, addr, port, "ESTABLISHED", "FIN_WAIT1");
    }
    assert!(
        must_value(out, "@transitions[SYN_SENT, ESTABLISHED]") >= 2,
        "{out}"
    );
    assert!(
        must_value(out, "@transitions[LISTEN, SYN_RECV]") >= 2,
        "{out}"
    );
    assert!(!out.contains("@since"), "{out}");
}

fn check_cpuprofile(out: &str) {
    assert_header(out, 2, "");
    // The report after 5 s names the shell that spun for the first part of them.
    let top = out
        .split("--- top 10 of the last 5 seconds ---\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no 5-second report:\n{out}"));
    let top = &top[..top.find("\n\n").unwrap_or(top.len())];
    assert!(top.lines().count() <= 10, "{top}");
    assert!(must_value(top, "@samples[sh]") >= 10, "{out}");
    // 99 samples a second on every CPU, busy or idle, for about 5.4 s.
    let samples: i64 = rows(out, |c| {
        c.len() == 2 && c[0].starts_with("@samples_by_cpu[")
    })
    .iter()
    .map(|c| c[1].parse::<i64>().expect("a count"))
    .sum();
    assert!(samples >= 300, "{samples} samples:\n{out}");
}

fn check_proclife(out: &str) {
    assert_header(
        out,
        5,
        "PID     COMM             PPID    PCOMM            AGE_MS",
    );
    let sleep = rows(out, |c| c.len() == 5 && c[1] == "sleep" && c[3] == "sh");
    assert_eq!(sleep.len(), 1, "{out}");
    let age: u64 = sleep[0][4].parse().expect("an age");
    assert!(
        (200..2000).contains(&age),
        "sleep 0.2 lived {age} ms:\n{out}"
    );
    let ls = rows(out, |c| c.len() == 5 && c[1] == "ls" && c[3] == "sh");
    assert_eq!(ls.len(), 1, "{out}");
    assert_eq!(ls[0][2], sleep[0][2], "one parent:\n{out}");
    assert!(must_value(out, "@forks[sh]") >= 2, "{out}");
    assert!(total(&hist(out, "@lifetime_ms")) >= 2, "{out}");
    assert!(!out.contains("@born") && !out.contains("@parent"), "{out}");
}

fn check_signals(out: &str) {
    assert_header(
        out,
        2,
        "SPID    SCOMM            SIGNAL    TPID    TCOMM            RESULT",
    );
    let term = rows(out, |c| {
        c.len() == 6 && c[1] == "sh" && c[2] == "SIGTERM" && c[4] == "sleep"
    });
    assert_eq!(term.len(), 1, "sh's kill -TERM:\n{out}");
    assert_ne!(term[0][0], term[0][3], "{out}");
    assert_eq!(term[0][5], "delivered", "{out}");
    // The killed sleep's parent hears of it.
    let chld = rows(out, |c| {
        c.len() == 6 && c[2] == "SIGCHLD" && c[3] == term[0][0] && c[4] == "sh"
    });
    assert!(!chld.is_empty(), "{out}");
    assert_eq!(must_value(out, "@signals[SIGTERM, sleep]"), 1, "{out}");
    assert!(must_value(out, "@signals[SIGCHLD, sh]") >= 1, "{out}");
}

fn check_pagefaults(out: &str) {
    assert_header(out, 4, "");
    // dd maps and touches its program, its libraries and a 4 MiB buffer.
    assert!(must_value(out, "@faults[dd]") >= 20, "{out}");
    assert!(must_value(out, "@user_faults[dd, read]") >= 1, "{out}");
    assert!(must_value(out, "@user_faults[dd, write]") >= 1, "{out}");
    assert!(must_value(out, "@kernel_faults[dd]") >= 1, "{out}");
}

fn check_readlat(out: &str) {
    assert_header(out, 3, "");
    // cat waits on the pipe until sleep 0.2 exits and closes it.
    let slowest = must_value(out, "@slowest_usecs[cat]");
    assert!((190_000..2_000_000).contains(&slowest), "{out}");
    let cat = hist(out, "@read_usecs[cat]");
    let slow: u64 = cat
        .iter()
        .filter(|(l, _)| {
            ["[128K, 256K)", "[256K, 512K)", "[512K, 1M)", "[1M, 2M)"].contains(&l.as_str())
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(slow, 1, "{out}");
    assert!(!out.contains("@start"), "{out}");
}

fn check_cswitch(out: &str) {
    assert_header(out, 3, "");
    // One report after a second, and the rest when tracing stops.
    assert!(
        rows(out, |c| c.len() == 2 && c[0] == "@per_second:").len() >= 2,
        "{out}"
    );
    assert!(must_value(out, "@switches[sleep, voluntary]") >= 2, "{out}");
    assert!(must_value(out, "@switched_in[sleep]") >= 2, "{out}");
}

fn check_slowsyscalls(out: &str) {
    assert_header(out, 4, "PID     COMM               NR MS");
    // clock_nanosleep (230), or nanosleep (35) with an older sleep.
    let sleep = rows(out, |c| {
        c.len() == 4 && c[1] == "sleep" && (c[2] == "230" || c[2] == "35")
    });
    assert_eq!(sleep.len(), 1, "{out}");
    let ms: u64 = sleep[0][3].parse().expect("ms");
    assert!((300..2000).contains(&ms), "{out}");
    let nr = sleep[0][2];
    let buckets = hist(out, &format!("@slow_ms[{nr}]"));
    assert!(
        buckets.iter().any(|(l, n)| *n >= 1
            && l.trim_start_matches('[')
                .split(',')
                .next()
                .and_then(|lo| lo.parse::<u64>().ok())
                .is_some_and(|lo| lo >= 300)),
        "{out}"
    );
    assert_eq!(
        must_value(out, &format!("@slow_calls[sleep, {nr}]")),
        1,
        "{out}"
    );
    // END prints the maps; the start times are not among them.
    assert!(!out.contains("@entered"), "{out}");
}

fn check_bashreadline(out: &str) {
    assert_header(out, 2, "TIME     PID     LINE");
    // `HH:MM:SS PID     LINE`
    let typed: Vec<(&str, &str)> = out
        .lines()
        .filter(|l| {
            l.len() > 17 && is_clock_time(&l[..8]) && l[9..16].trim().parse::<u32>().is_ok()
        })
        .map(|l| (l[9..16].trim(), &l[17..]))
        .collect();
    assert_eq!(typed.len(), 2, "{out}");
    assert_eq!(typed[0].1, "echo hello-from-readline", "{out}");
    assert_eq!(typed[1].1, "exit", "{out}");
    assert_eq!(typed[0].0, typed[1].0, "{out}");
    assert_eq!(
        must_value(out, &format!("@lines[{}]", typed[0].0)),
        2,
        "{out}"
    );
}

/// One element of a map keyed by stacks (and more), as printed: the key's parts, each
/// the lines of a stack (frames, indented 4) or one value, and the value.
fn stack_entries(out: &str, map: &str) -> Vec<(Vec<Vec<String>>, i64)> {
    let start = format!("{map}[");
    let mut entries = Vec::new();
    let mut lines = out.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(start.as_str()) else {
            continue;
        };
        // `@m[` then parts separated by `, `: a stack's frames are lines of their own,
        // other values stay on the line; `]: N` ends the key.
        let mut parts: Vec<Vec<String>> = vec![vec![]];
        let mut text = rest.to_string();
        loop {
            if let Some(frame) = text.strip_prefix("    ") {
                parts.last_mut().unwrap().push(frame.to_string());
            } else {
                let (before, value) = match text.rsplit_once("]: ") {
                    Some((b, v)) => (b.to_string(), Some(v.to_string())),
                    None => (text.clone(), None),
                };
                let mut pieces = before.split(", ");
                if let Some(first) = pieces.next() {
                    if !first.is_empty() {
                        parts.last_mut().unwrap().push(first.to_string());
                    }
                }
                for piece in pieces {
                    parts.push(vec![]);
                    if !piece.is_empty() {
                        parts.last_mut().unwrap().push(piece.to_string());
                    }
                }
                if let Some(v) = value {
                    let v = v.parse().unwrap_or_else(|_| panic!("a count: {v}\n{out}"));
                    entries.push((parts, v));
                    break;
                }
            }
            text = lines.next().expect("the rest of a key").to_string();
        }
    }
    entries
}

/// `name+offset`, a symbolised frame.
fn is_symbol_frame(frame: &str) -> bool {
    frame.rsplit_once('+').is_some_and(|(name, off)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && off.parse::<u64>().is_ok()
    })
}

fn check_stackprofile(out: &str) {
    assert_header(out, 2, "");
    assert!(must_value(out, "@samples[dd]") >= 20, "{out}");
    assert!(out.lines().filter(|l| l.starts_with("@samples[")).count() <= 10);
    let stacks = stack_entries(out, "@stacks");
    assert!(
        !stacks.is_empty() && stacks.len() <= 5,
        "{} stacks:\n{out}",
        stacks.len()
    );
    assert!(
        stacks.windows(2).all(|w| w[0].1 <= w[1].1),
        "hottest last:\n{out}"
    );
    for (parts, _) in &stacks {
        assert_eq!(parts.len(), 3, "kstack, ustack, comm: {parts:?}\n{out}");
        assert!(
            parts[0].iter().all(|f| is_symbol_frame(f)),
            "{parts:?}\n{out}"
        );
    }
    // dd spends its time in read and write: kernel stacks from the system call entry.
    let dd_in_kernel = stacks.iter().filter(|(p, _)| {
        p[2] == ["dd"]
            && p[0]
                .last()
                .is_some_and(|f| f.starts_with("entry_SYSCALL_64"))
            && !p[1].is_empty()
    });
    assert!(dd_in_kernel.count() >= 1, "{out}");
}

fn check_offcpu(out: &str) {
    assert_header(out, 3, "");
    let stacks = stack_entries(out, "@offcpu_us");
    assert!(
        !stacks.is_empty() && stacks.len() <= 10,
        "{} stacks:\n{out}",
        stacks.len()
    );
    assert!(
        stacks.windows(2).all(|w| w[0].1 <= w[1].1),
        "most last:\n{out}"
    );
    // Six sleeps of 0.3 s, blocked in clock_nanosleep: one stack.
    let sleeps: Vec<i64> = stacks
        .iter()
        .filter(|(p, _)| {
            p.len() == 2
                && p[0] == ["sleep"]
                && p[1].first().is_some_and(|f| f.starts_with("__schedule+"))
                && p[1].iter().any(|f| f.starts_with("do_nanosleep+"))
                && p[1]
                    .last()
                    .is_some_and(|f| f.starts_with("entry_SYSCALL_64"))
                && p[1].iter().all(|f| is_symbol_frame(f))
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(sleeps.len(), 1, "{out}");
    assert!(
        (1_800_000..10_000_000).contains(&sleeps[0]),
        "{} us asleep:\n{out}",
        sleeps[0]
    );
    assert!(
        bucket(&hist(out, "@blocked_ms[sleep]"), "[256, 512)") >= 6,
        "{out}"
    );
    assert!(!out.contains("@start") && !out.contains("@stack["), "{out}");
}

fn check_syscall_errors(out: &str) {
    assert_header(out, 2, "");
    assert!(out.lines().filter(|l| l.starts_with("@errors[")).count() <= 20);
    // 1000 opens of a missing file (openat, 257) and 1000 reads of a directory (read, 0).
    let missing = must_value(out, "@errors[cat, 257, No such file or directory]");
    assert!(missing >= 1000, "{out}");
    let dirs = must_value(out, "@errors[cat, 0, Is a directory]");
    assert!((1000..1100).contains(&dirs), "{out}");
    assert!(must_value(out, "@by_error[No such file or directory]") >= missing);
    assert!(must_value(out, "@by_error[Is a directory]") >= dirs);
}

/// The cgroup `cgroup_syscalls.bt`'s command moves itself into, under the cgroup2 mount.
const EXAMPLE_CGROUP: &str = "probe-examples-cgroup";

/// Where the cgroup v2 hierarchy is mounted.
fn cgroup2_mount() -> String {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_string())
        })
        .expect("a cgroup2 mount")
}

fn check_cgroup_syscalls(out: &str) {
    assert_header(out, 2, "");
    assert!(out.lines().filter(|l| l.starts_with("@syscalls[")).count() <= 10);
    assert!(
        out.lines()
            .filter(|l| l.starts_with("@by_process["))
            .count()
            <= 10
    );
    // dd's 100000 reads and writes, in the cgroup its shell moved into.
    let cgroup = format!("unified:/{EXAMPLE_CGROUP}");
    assert!(
        must_value(out, &format!("@syscalls[{cgroup}]")) >= 200_000,
        "{out}"
    );
    let dd = must_value(out, &format!("@by_process[{cgroup}, dd]"));
    assert!((200_000..201_000).contains(&dd), "{out}");
}

/// The count, average and total of the `stats` element printed for `key`.
fn stats(out: &str, key: &str) -> (i64, i64, i64) {
    let prefix = format!("{key}: ");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"));
    let n: Vec<i64> = line
        .split(", ")
        .map(|part| {
            part.rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("not a stats line: {line}"))
        })
        .collect();
    assert_eq!(n.len(), 3, "{line}");
    (n[0], n[1], n[2])
}

fn check_syslatency(out: &str) {
    assert_header(out, 3, "");
    // 2000 reads and 2000 writes of a byte, each a few microseconds at most.
    let (count, avg, total) = stats(out, "@nsecs[dd]");
    assert!((4000..4500).contains(&count), "{out}");
    assert!(avg > 0 && avg < 1_000_000, "{out}");
    assert!((total / count - avg).abs() <= 1, "{out}");
    // One 0.2 s sleep among sleep's calls.
    let (_, _, total) = stats(out, "@nsecs[sleep]");
    assert!((200_000_000..2_000_000_000).contains(&total), "{out}");
    let slowest = value(out, "@max_usecs[230]").or_else(|| value(out, "@max_usecs[35]"));
    assert!(
        slowest.is_some_and(|us| us >= 200_000),
        "clock_nanosleep or nanosleep:\n{out}"
    );
    must_value(out, "@avg_nsecs[0]");
    assert!(!out.contains("@entered"), "{out}");
}

#[test]
fn every_example_traces_what_it_says() {
    require_root();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&tmp).unwrap();
    let dio = tmp.join(format!("examples-dio-{}", std::process::id()));
    let input = tmp.join(format!("examples-bash-input-{}", std::process::id()));
    std::fs::write(&input, "echo hello-from-readline\nexit\n").unwrap();
    let tcp_py = tmp.join(format!("examples-tcp-{}.py", std::process::id()));
    std::fs::write(&tcp_py, TCP_PY).unwrap();
    let cgroup = Path::new(&cgroup2_mount()).join(EXAMPLE_CGROUP);
    std::fs::create_dir_all(&cgroup).unwrap();

    let cases = vec![
        case(
            "read_count.bt",
            "dd if=/dev/zero of=/dev/null bs=1 count=1000",
            check_read_count,
        ),
        // Ends by itself after 1.1 s.
        Case {
            script: "heartbeat.bt",
            args: vec![],
            stdin: None,
            check: check_heartbeat,
        },
        case(
            "syscount.bt",
            "dd if=/dev/zero of=/dev/null bs=1 count=500",
            check_syscount,
        ),
        case(
            "rwsize.bt",
            "sh -c 'dd if=/dev/zero of=/dev/null bs=4k count=100; cat / 2>/dev/null; true'",
            check_rwsize,
        ),
        case(
            "biolatency.bt",
            &format!(
                "dd if=/dev/zero of={} bs=64k count=64 oflag=direct",
                dio.display()
            ),
            check_biolatency,
        ),
        case(
            "runqlat.bt",
            "sh -c 'sleep 0.05; sleep 0.05'",
            check_runqlat,
        ),
        case(
            "opensnoop.bt",
            "/usr/bin/head -c 0 /etc/hostname /nonexistent-probe-example",
            check_opensnoop,
        ),
        case(
            "execsnoop.bt",
            "sh -c 'ls -l / >/dev/null; /nonexistent-probe-example arg 2>/dev/null; echo done'",
            check_execsnoop,
        ),
        case(
            "tcpstates.bt",
            &format!("python3 {}", tcp_py.display()),
            check_tcpstates,
        ),
        // Spins for a moment, then idles until the 5-second report has been printed.
        case(
            "cpuprofile.bt",
            "sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; sleep 5.4'",
            check_cpuprofile,
        ),
        case(
            "proclife.bt",
            "sh -c 'sleep 0.2; ls >/dev/null; true'",
            check_proclife,
        ),
        case(
            "signals.bt",
            "sh -c 'sleep 5 & sleep 0.1; kill -TERM $!; wait'",
            check_signals,
        ),
        case(
            "pagefaults.bt",
            "dd if=/dev/zero of=/dev/null bs=4M count=2",
            check_pagefaults,
        ),
        case("readlat.bt", "sh -c 'sleep 0.2 | cat'", check_readlat),
        // Stays long enough for one per-second report.
        case("cswitch.bt", "sh -c 'sleep 0.1; sleep 1.1'", check_cswitch),
        case("slowsyscalls.bt", "sleep 0.3", check_slowsyscalls),
        // dd busy in system calls for about a second, its stacks sampled.
        case(
            "stackprofile.bt",
            "dd if=/dev/zero of=/dev/null bs=1 count=2000000",
            check_stackprofile,
        ),
        // Six sleeps at once, so their blocked time outweighs any other thread's.
        case(
            "offcpu.bt",
            "sh -c 'for i in 1 2 3 4 5 6; do sleep 0.3 & done; wait'",
            check_offcpu,
        ),
        case(
            "syscall_errors.bt",
            "sh -c 'for i in $(seq 1000); do echo /nonexistent-probe-example /; done \
             | xargs cat 2>/dev/null; true'",
            check_syscall_errors,
        ),
        // The shell moves itself into a cgroup of its own before dd runs.
        case(
            "cgroup_syscalls.bt",
            &format!(
                "sh -c 'echo $$ > {}/cgroup.procs; \
                 dd if=/dev/zero of=/dev/null bs=1 count=100000 2>/dev/null'",
                cgroup.display()
            ),
            check_cgroup_syscalls,
        ),
        case(
            "syslatency.bt",
            "sh -c 'dd if=/dev/zero of=/dev/null bs=1 count=2000 2>/dev/null; sleep 0.2'",
            check_syslatency,
        ),
        // An interactive bash reads its lines with readline even from a file; `-c` makes
        // the uretprobe fire in that bash only.
        Case {
            script: "bashreadline.bt",
            args: vec!["-c".into(), "bash --norc --noprofile -i".into()],
            stdin: Some(input.clone()),
            check: check_bashreadline,
        },
    ];

    let on_disk: BTreeSet<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bt"))
        .collect();
    let covered: BTreeSet<String> = cases.iter().map(|c| c.script.to_string()).collect();
    assert_eq!(on_disk, covered, "every example needs a case here");

    let mut failures = Vec::new();
    let start = Instant::now();
    for c in &cases {
        let path = examples_dir().join(c.script);
        let mut cmd = probe();
        cmd.arg(&path).args(&c.args).env("HISTFILE", "/dev/null");
        match &c.stdin {
            Some(file) => cmd.stdin(std::fs::File::open(file).unwrap()),
            None => cmd.stdin(Stdio::null()),
        };
        let t = Instant::now();
        let o: Output = run_with_timeout(cmd, Duration::from_secs(30));
        let took = t.elapsed();
        eprintln!("{}: {:.1} s", c.script, took.as_secs_f64());
        let out = stdout(&o);
        let result = std::panic::catch_unwind(|| {
            assert!(
                o.status.success(),
                "exit status {}: {}",
                o.status,
                stderr(&o)
            );
            (c.check)(&out);
        });
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", c.script));
        }
    }
    std::fs::remove_file(&dio).ok();
    std::fs::remove_file(&input).ok();
    std::fs::remove_file(&tcp_py).ok();
    std::fs::remove_dir(&cgroup).ok();
    eprintln!("all examples: {:.1} s", start.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
