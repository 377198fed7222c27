//! The binary's stages without a kernel: `--emit`, diagnostics, argument handling.

mod common;
use common::*;

const ONE_LINER: &str = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }";

#[test]
fn emit_ast_prints_the_tree() {
    let o = run_probe(&["--emit", "ast", ONE_LINER]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("tracepoint:syscalls:sys_enter_read")
            && out.contains("AssignMap")
            && out.contains("count"),
        "{out}"
    );
}

#[test]
fn emit_ir_prints_each_probe() {
    let o = run_probe(&["--emit", "ir", ONE_LINER]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "; tracepoint:syscalls:sys_enter_read\nfn tracepoint_syscalls_sys_enter_read:"
        ),
        "{out}"
    );
    assert!(out.contains("call #16"), "get_current_comm: {out}");
}

#[test]
fn emit_asm_reads_like_the_kernel_with_source_lines() {
    let o = run_probe(&[
        "--emit",
        "asm",
        "BEGIN\n{\n  @x = count();\n  printf(\"%d\\n\", pid);\n}\n",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!("asm_begin_count_printf", stdout(&o));
}

#[test]
fn emit_asm_of_the_one_liner() {
    let o = run_probe(&["--emit", "asm", ONE_LINER]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("call bpf_get_current_comm#16"), "{out}");
    assert!(out.contains("= *(u64 *)(r"), "{out}");
    assert!(out.contains("exit"), "{out}");
}

#[test]
fn emit_elf_needs_an_output_file() {
    let o = run_probe(&["--emit", "elf", ONE_LINER]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "probe: --emit elf needs -o FILE\n");
}

#[test]
fn emit_elf_writes_a_bpf_object() {
    let path = std::env::temp_dir().join(format!("probe-cli-{}.o", std::process::id()));
    let o = run_probe(&["--emit", "elf", "-o", path.to_str().unwrap(), ONE_LINER]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bytes[18], bytes[19]]),
        247,
        "e_machine is EM_BPF"
    );
}

#[test]
fn no_program_is_an_error() {
    let o = run_probe(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no program given"));
}

/// Every error path of the front end, rendered as the user sees it.
#[test]
fn diagnostics_are_rendered_with_file_line_column_and_caret() {
    let cases: &[(&str, &str)] = &[
        ("unknown_identifier", "BEGIN { @x = foo; }"),
        ("unknown_function", "BEGIN { bar(1); }"),
        ("unknown_probe_kind", "frobnicate:x { exit(); }"),
        ("bad_tracepoint", "tracepoint:onlyone { exit(); }"),
        ("bad_interval", "interval:minutes:5 { exit(); }"),
        ("map_two_key_types", "BEGIN { @m[1] = 2; @m[\"a\"] = 3; }"),
        ("map_two_value_types", "BEGIN { @m = 1; @m = comm; }"),
        ("map_key_count", "BEGIN { @m[1] = 2; @m[1, 2] = 3; }"),
        ("aggregation_outside_map", "BEGIN { count(); }"),
        ("aggregation_in_variable", "BEGIN { $x = count(); }"),
        ("count_with_args", "BEGIN { @ = count(1); }"),
        ("exit_with_args", "BEGIN { exit(1); }"),
        ("printf_no_args", "BEGIN { printf(); }"),
        ("printf_not_literal", "BEGIN { printf(comm); }"),
        ("printf_bad_conversion", "BEGIN { printf(\"%q\\n\", 1); }"),
        ("printf_arg_count", "BEGIN { printf(\"%d %d\\n\", 1); }"),
        ("printf_arg_type", "BEGIN { printf(\"%d\\n\", comm); }"),
        ("printf_string_for_int", "BEGIN { printf(\"%s\\n\", pid); }"),
        ("undefined_variable", "BEGIN { @x = $y; }"),
        ("variable_type_change", "BEGIN { $x = 1; $x = comm; }"),
        ("string_arithmetic", "BEGIN { @x = comm + 1; }"),
        ("string_ordering", "BEGIN { @x = comm < \"a\"; }"),
        ("string_condition", "BEGIN { if (comm) { exit(); } }"),
        ("map_read_never_assigned", "BEGIN { @x = @y; }"),
        ("read_aggregation", "BEGIN { @c = count(); @x = @c; }"),
        ("void_value", "BEGIN { @x = exit(); }"),
        ("ternary_mismatch", "BEGIN { @x = pid ? 1 : comm; }"),
        ("wildcard_matches_nothing", "tracepoint:nope:*x* { exit(); }"),
        (
            "wildcard_args_differ",
            "tracepoint:syscalls:sys_enter_kill, tracepoint:syscalls:sys_enter_tgkill { @[args->sig] = count(); }",
        ),
        ("break_outside_loop", "BEGIN { break; }"),
        ("continue_outside_loop", "BEGIN { if (1) { continue; } }"),
        ("unknown_let_type", "BEGIN { let $x: float = 1; }"),
        ("increment_string_variable", "BEGIN { $s = comm; $s++; }"),
        ("increment_undefined_variable", "BEGIN { $n++; }"),
        ("compound_on_string_map", "BEGIN { @m = comm; @m += 1; }"),
        ("compound_with_string_value", "BEGIN { $x = 1; $x += comm; }"),
        ("let_type_mismatch", "BEGIN { let $x: uint32 = 1; $x = comm; }"),
        ("let_scope_ends_with_block", "BEGIN { { let $x = 1; } @y = $x; }"),
        ("delete_needs_a_map", "BEGIN { delete(1); }"),
        ("delete_needs_a_key", "BEGIN { @m[1] = 1; delete(@m); }"),
        ("delete_unknown_map", "BEGIN { delete(@nope[1]); }"),
        ("delete_wrong_key_type", "BEGIN { @m[1] = 1; delete(@m, \"a\"); }"),
        ("has_key_two_keys", "BEGIN { @m[1] = 1; @x = has_key(@m[1], 1); }"),
        ("clear_with_key", "BEGIN { @m[1] = 1; clear(@m[1]); }"),
        ("zero_two_args", "BEGIN { @m[1] = 1; zero(@m, 1); }"),
        ("cast_string", "BEGIN { @x = (uint8)comm; }"),
        ("unroll_too_many", "BEGIN { unroll(101) { @x = 1; } }"),
        ("unroll_zero", "BEGIN { unroll(0) { @x = 1; } }"),
        ("for_range_of_strings", "BEGIN { for ($i : 0..comm) { } }"),
        ("tuple_index_of_integer", "BEGIN { $t = 1; @x = $t.0; }"),
        ("tuple_index_out_of_range", "BEGIN { $t = (1, 2); @x = $t.2; }"),
        ("tuple_in_printf", "BEGIN { printf(\"%d\\n\", (1, 2)); }"),
        ("tuple_value_types_differ", "BEGIN { @x = (1, \"a\"); @x = (\"b\", 2); }"),
        ("macro_recursive", "macro f($x) { f($x) } BEGIN { @x = f(1); }"),
        ("macro_assigns_expression_parameter", "macro g($x) { $x = 1 } BEGIN { g(5); }"),
        ("macro_with_statements_as_value", "macro h($x) { @y = $x; } BEGIN { @z = h(1); }"),
        ("macro_map_parameter_given_integer", "macro k(@m) { @m = 1 } BEGIN { k(5); }"),
        ("macro_wrong_arity", "macro k(@m) { @m = 1 } BEGIN { k(@a, 2); }"),
        ("macro_defined_twice", "macro m() { 1 } macro m() { 2 } BEGIN { @x = m(); }"),
        ("config_max_strlen_out_of_range", "config = { max_strlen = 1 } BEGIN { exit(); }"),
        ("config_planned_setting", "config = { stack_mode = bpftrace } BEGIN { exit(); }"),
        ("config_unknown_setting", "config = { nope = 3 } BEGIN { exit(); }"),
        ("config_ring_pages_not_power_of_two", "config = { perf_rb_pages = 3 } BEGIN { exit(); }"),
        ("config_license_not_gpl", "config = { license = \"MIT\" } BEGIN { exit(); }"),
        ("config_missing_probes_value", "config = { missing_probes = maybe } BEGIN { exit(); }"),
        ("config_print_maps_not_bool", "config = { print_maps_on_exit = 5 } BEGIN { exit(); }"),
        ("config_map_keys_zero", "config = { max_map_keys = 0 } BEGIN { exit(); }"),
        (
            "config_too_many_probes",
            "config = { max_probes = 2 } tracepoint:syscalls:sys_enter_read* { @[comm] = count(); }",
        ),
        ("sizeof_of_nothing", "BEGIN { @x = sizeof(exit()); }"),
        ("not_yet_builtin", "BEGIN { @x = unwatch; }"),
        ("not_yet_function", "BEGIN { @x = skboutput(5); }"),
        ("several_errors_at_once", "BEGIN { @x = nope; @y = uid; printf(\"%d\\n\"); @z = 1 + comm; }"),
        ("args_unknown_field", "tracepoint:syscalls:sys_enter_kill { @x = args.nope; }"),
        ("args_outside_tracepoint", "BEGIN { @x = args.pid; }"),
        ("args_whole_record", "tracepoint:syscalls:sys_enter_kill { @x = args; }"),
        ("args_missing_tracepoint", "tracepoint:syscalls:nope { @x = args.pid; }"),
        ("field_of_non_args", "BEGIN { $x = 1; @y = $x.field; }"),
        ("interval_overflow", "interval:ms:111111111111100 { exit(); }"),
        ("printf_width_overflow", "BEGIN { printf(\"%88888888888888888888s\\n\", comm); }"),
        ("str_of_string", "BEGIN { @x = str(comm); }"),
        ("str_bad_length", "BEGIN { @x = str(0, 200); }"),
        ("str_no_args", "BEGIN { @x = str(); }"),
        ("loop_that_never_ends", "BEGIN { $i = 1; $s = 0; while ($i < 10) { $s += $i; } exit(); }"),
        ("declared_aggregation_in_hash", "let @a = hash(10); BEGIN { @a = count(); }"),
        ("declared_value_in_percpuhash", "let @b = percpuhash(5); BEGIN { @b = 1; }"),
        ("declared_unknown_kind", "let @c = nope(1); BEGIN { @c = 1; }"),
        ("declared_size_zero", "let @d = hash(0); BEGIN { @d = 1; }"),
        ("declared_twice", "let @e = hash(1); let @e = hash(2); BEGIN { @e = 1; }"),
        ("declared_never_used", "let @f = hash(1); BEGIN { exit(); }"),
        ("percpuarray_string_key", "let @g = percpuarray(4); BEGIN { @g[comm] = count(); }"),
        ("percpuarray_plain_values", "let @g = percpuarray(4); BEGIN { @g[1] = 5; }"),
        ("negate_string", "BEGIN { @x = -comm; }"),
        ("not_string", "BEGIN { @x = !comm; }"),
        ("bitnot_string", "BEGIN { @x = ~comm; }"),
        ("and_with_string", "BEGIN { @x = comm && 1; }"),
        ("or_with_string", "BEGIN { @x = 1 || comm; }"),
        ("ternary_string_condition", "BEGIN { @x = comm ? 1 : 2; }"),
        ("string_minus_string", "BEGIN { @x = comm - \"a\"; }"),
        ("compare_int_with_string", "BEGIN { @x = pid == comm; }"),
        ("aggregation_then_value", "BEGIN { @x = count(); @x = 1; }"),
        ("value_then_aggregation", "BEGIN { @x = 1; @x = count(); }"),
        ("printf_char_given_string", "BEGIN { printf(\"%c\\n\", comm); }"),
        ("printf_format_not_string", "BEGIN { printf(1); }"),
        ("printf_too_many_args", "BEGIN { printf(\"%d\\n\", 1, 2); }"),
        ("has_key_without_key", "BEGIN { @m[1] = 1; @x = has_key(@m); }"),
        ("delete_key_twice", "BEGIN { @m[1] = 1; delete(@m[1], 2); }"),
        ("clear_without_map", "BEGIN { clear(); }"),
        ("str_three_args", "BEGIN { @x = str(1, 2, 3); }"),
        ("count_in_predicate", "BEGIN /count()/ { exit(); }"),
        ("increment_aggregation_map", "BEGIN { @c = count(); @c++; }"),
        ("let_string_into_uint8", "BEGIN { let $x: uint8 = comm; }"),
        ("args_in_interval", "interval:s:1 { @x = args.pid; }"),
        ("cast_tuple", "BEGIN { @x = (uint8)(1, 2); }"),
        ("tuple_with_aggregation", "BEGIN { @x = (count(), 1); }"),
        ("tuple_key_shape", "BEGIN { @m[(1, \"a\")] = 1; @m[1, 2] = 2; }"),
        ("map_read_wrong_key_type", "BEGIN { @m[1] = 1; printf(\"%d\", @m[\"a\"]); }"),
        ("increment_wrong_key_type", "BEGIN { @m[1] = 1; @m[\"a\"]++; }"),
        ("for_map_never_assigned", "BEGIN { for ($kv : @nope) { } }"),
        ("for_map_without_keys", "BEGIN { @x = 1; for ($kv : @x) { } }"),
        ("for_map_of_aggregations", "BEGIN { @c[pid] = count(); for ($kv : @c) { } }"),
        (
            "for_map_reads_args",
            "tracepoint:syscalls:sys_enter_kill { @m[1] = 1; for ($kv : @m) { @s = args.sig; } }",
        ),
        ("for_map_element_is_a_tuple", "BEGIN { @m[1] = 2; for ($kv : @m) { @x = $kv + 1; } }"),
        ("len_of_an_element", "BEGIN { @m[1] = 2; @n = len(@m[1]); }"),
        ("len_of_a_number", "BEGIN { @n = len(5); }"),
        ("block_expression_without_value", "BEGIN { $x = { let $a = 1; }; }"),
        ("block_expression_scope", "BEGIN { $x = { let $b = 1; $b }; @y = $b; }"),
        ("block_expression_of_nothing", "BEGIN { $x = { printf(\"hi\") }; }"),
        ("c_struct_unknown_type", "struct Foo { float x; } BEGIN { exit(); }"),
        ("c_struct_missing_semicolon", "struct Foo { int x } BEGIN { exit(); }"),
        ("c_struct_unknown_member_struct", "struct Foo { struct Bar b; } BEGIN { exit(); }"),
        ("c_struct_unclosed", "struct Foo { int x; BEGIN { exit(); }"),
        ("c_struct_declaration_only", "struct Foo; BEGIN { exit(); }"),
        ("c_struct_bad_array", "struct Foo { char name[0]; } BEGIN { exit(); }"),
        ("c_struct_field_missing", "struct Foo { int x; } BEGIN { @y = ((struct Foo *)0)->y; }"),
        ("software_event_unknown", "software:nope:10 { @ = count(); }"),
        ("hardware_count_zero", "hardware:cycles:0 { @ = count(); }"),
        ("profile_without_rate", "profile:hz { @ = count(); }"),
        ("rawtracepoint_without_event", "rawtracepoint: { @ = count(); }"),
        ("arg_in_tracepoint", "tracepoint:syscalls:sys_enter_kill { @ = arg0; }"),
        ("arg_in_return_probe", "kretprobe:vfs_read { @ = arg1; }"),
        ("retval_in_entry_probe", "kprobe:vfs_read { @ = retval; }"),
        ("arg_in_map_loop", "rt:sys_enter { @m[1] = 1; for ($kv : @m) { @x = arg1; } }"),
        ("uprobe_without_function", "uprobe:/bin/sh { @ = count(); }"),
        ("uprobe_bad_offset", "uprobe:/bin/sh:main+zz { @ = count(); }"),
        ("uprobe_address_with_offset", "uprobe:/bin/sh:0x1000+4 { @ = count(); }"),
        ("uprobe_wildcard_matches_nothing", "uprobe:/bin/sh:no_such_function_* { @ = count(); }"),
        ("uprobe_wildcard_in_missing_binary", "uprobe:/no/such/binary:f* { @ = count(); }"),
        ("fentry_unknown_function", "fentry:no_such_kernel_function { @ = count(); }"),
        ("fentry_arg_beyond_parameters", "fentry:vfs_read { @ = arg7; }"),
        ("fentry_args_field_missing", "fentry:vfs_read { @ = args.nope; }"),
        ("func_in_tracepoint", "tracepoint:syscalls:sys_enter_kill { @[func] = count(); }"),
        ("kprobe_wildcard_matches_nothing", "kprobe:no_such_function_* { @ = count(); }"),
        ("ctx_outside_iter", "tracepoint:syscalls:sys_enter_kill { @ = ctx; }"),
        ("iter_unknown_target", "iter:nope { @ = count(); }"),
        ("usdt_without_name", "usdt:/bin/sh { @ = count(); }"),
        ("usdt_probe_missing", "usdt:/bin/sh:no_such_probe { @ = count(); }"),
        ("return_a_string", "BEGIN { return \"no\"; }"),
        ("test_without_name", "test { return 0; }"),
        ("kretprobe_with_offset", "kretprobe:vfs_read+4 { @ = count(); }"),
        ("kprobe_bad_offset", "kprobe:vfs_read+x { @ = count(); }"),
        ("sum_of_string", "BEGIN { @ = sum(comm); }"),
        ("avg_without_argument", "BEGIN { @ = avg(); }"),
        ("hist_bits_too_large", "BEGIN { @ = hist(1, 6); }"),
        ("hist_bits_not_literal", "BEGIN { @ = hist(1, pid); }"),
        ("lhist_three_arguments", "BEGIN { @ = lhist(1, 0, 10); }"),
        ("lhist_bound_not_literal", "BEGIN { @ = lhist(1, 0, pid, 1); }"),
        ("lhist_zero_step", "BEGIN { @ = lhist(1, 0, 10, 0); }"),
        ("lhist_max_below_min", "BEGIN { @ = lhist(1, 10, 0, 1); }"),
        ("lhist_too_many_buckets", "BEGIN { @ = lhist(1, 0, 100000, 1); }"),
        ("lhist_two_shapes", "BEGIN { @ = lhist(1, 0, 10, 1); @ = lhist(1, 0, 20, 1); }"),
        ("min_and_max_in_one_map", "BEGIN { @ = min(1); @ = max(1); }"),
        ("print_top_not_literal", "BEGIN { @m[1] = count(); print(@m, pid); }"),
        ("print_two_values", "BEGIN { print(1, 2); }"),
        ("print_pointer", "BEGIN { print(curtask); }"),
        ("strlen_of_integer", "BEGIN { @ = strlen(1); }"),
        ("strncmp_length_not_literal", "BEGIN { @ = strncmp(comm, \"a\", pid); }"),
        ("strcontains_needle_not_literal", "BEGIN { @ = strcontains(comm, comm); }"),
        ("kstack_unknown_mode", "BEGIN { @[kstack(fancy)] = count(); }"),
        ("ustack_limit_too_deep", "BEGIN { @[ustack(perf, 200)] = count(); }"),
        ("ksym_of_string", "BEGIN { printf(\"%s\", ksym(comm)); }"),
        ("system_without_unsafe", "BEGIN { system(\"ls\"); }"),
        ("cat_without_format", "BEGIN { cat(); }"),
        ("time_format_not_literal", "BEGIN { time(comm); }"),
        ("join_of_string", "BEGIN { join(comm); }"),
        ("strerror_of_string", "BEGIN { printf(\"%s\", strerror(comm)); }"),
        ("strftime_format_not_literal", "BEGIN { printf(\"%s\", strftime(comm, nsecs)); }"),
        ("signal_without_unsafe", "BEGIN { signal(9); }"),
        ("kaddr_unknown_symbol", "BEGIN { @ = kaddr(\"no_such_kernel_symbol_x\"); }"),
        ("bswap_of_string", "BEGIN { @ = bswap(comm); }"),
        ("cgroupid_not_literal", "BEGIN { @ = cgroupid(comm); }"),
        ("ntop_of_string", "BEGIN { printf(\"%s\", ntop(comm)); }"),
        ("array_stored_whole", "tracepoint:sock:inet_sock_set_state { @a = args.saddr; }"),
        ("reg_unknown_register", "kprobe:vfs_read { @ = reg(\"eax\"); }"),
        ("reg_in_tracepoint", "tracepoint:sched:sched_switch { @ = reg(\"ip\"); }"),
        ("usermode_in_begin", "BEGIN { @ = usermode; }"),
        ("signal_thread_without_unsafe", "BEGIN { signal_thread(9); }"),
        ("buf_of_address_without_length", "kprobe:vfs_read { printf(\"%r\", buf(arg1)); }"),
        ("buf_too_long", "BEGIN { printf(\"%r\", buf(\"abc\", 100)); }"),
        ("macaddr_of_string", "BEGIN { printf(\"%s\", macaddr(comm)); }"),
        ("cgroup_path_of_string", "BEGIN { printf(\"%s\", cgroup_path(comm)); }"),
        ("assert_with_wrong_types", "BEGIN { assert(comm, 5); }"),
        ("assert_with_one_argument", "BEGIN { assert(1); }"),
        ("assert_as_a_value", "BEGIN { @x = assert(1, \"a\"); }"),
        ("strstr_needle_not_literal", "BEGIN { @ = strstr(comm, comm); }"),
        ("signal_name_of_string", "BEGIN { printf(\"%s\", signal_name(comm)); }"),
        ("signal_unknown_name", "BEGIN { signal(\"SIGNOPE\"); }"),
        ("syscall_name_of_string", "BEGIN { printf(\"%s\", syscall_name(comm)); }"),
        ("static_assert_fails", "BEGIN { static_assert(sizeof(int32) == 8, \"int32 is 8 bytes\"); }"),
        ("static_assert_not_constant", "BEGIN { static_assert(pid == 1, \"x\"); }"),
        ("static_assert_message_not_literal", "BEGIN { static_assert(1, comm); }"),
        ("struct_field_missing", "BEGIN { @x = curtask->real_parnet; }"),
        ("struct_bitfield", "BEGIN { @x = curtask->sched_reset_on_fork; }"),
        ("struct_unknown", "BEGIN { @x = ((struct nosuch *)0)->a; }"),
        ("struct_cast_without_pointer", "BEGIN { @x = (struct task_struct)0; }"),
        ("struct_stored_whole", "BEGIN { @x = *curtask; }"),
        ("struct_member_stored_whole", "BEGIN { $s = curtask->se; }"),
        ("nested_struct_field_missing", "BEGIN { @x = curtask->mm->nosuch; }"),
        ("struct_without_name", "BEGIN { @x = (struct *)0; }"),
        ("offsetof_missing_field", "BEGIN { @x = offsetof(struct task_struct, se.nosuch); }"),
        ("sizeof_unknown_struct", "BEGIN { @x = sizeof(struct nosuch); }"),
        ("tuple_variable_mismatch", "BEGIN { $t = (1, 2); $t = (1, \"a\"); }"),
        ("else_if_string_condition", "BEGIN { if (pid) { } else if (comm) { } }"),
        ("while_string_condition", "BEGIN { while (comm) { } }"),
        ("loop_variable_takes_string", "BEGIN { for ($i : 0..3) { $i = comm; } }"),
        ("empty_kretprobe", "kretprobe: { exit(); }"),
        ("interval_zero", "interval:s:0 { exit(); }"),
        ("interval_too_fast", "interval:hz:2000000000 { exit(); }"),
        ("begin_with_target", "BEGIN:x { exit(); }"),
        ("exit_as_variable", "BEGIN { @x = exit; }"),
        ("printf_as_value", "BEGIN { @x = printf(\"a\"); }"),
        ("dereference_integer", "BEGIN { @x = *5; }"),
        ("dereference_string", "BEGIN { @x = *comm; }"),
        ("pointer_cast_of_string", "BEGIN { @x = (uint8 *)comm; }"),
        ("address_of", "BEGIN { @y = &pid; }"),
        // Seventy values live at once spill more registers than the stack holds (large
        // values would move to the scratch map; spilled registers cannot).
        ("stack_too_large", &*Box::leak(stack_too_large().into_boxed_str())),
    ];
    for (name, src) in cases {
        let o = run_probe(&["-e", src]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains("stdin:1:"),
            "{name}: no file:line:col in\n{err}"
        );
        assert!(err.contains('^'), "{name}: no caret in\n{err}");
        insta::assert_snapshot!(format!("diag_{name}"), format!("{src}\n\n{err}"));
    }
}

#[test]
fn a_parameter_that_is_not_a_number_needs_str() {
    let o = run_probe(&["-e", "BEGIN { @x = $1; }", "abc"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&o));
}

#[test]
fn diagnostics_name_the_script_file() {
    let path = std::env::temp_dir().join(format!("probe-diag-{}.bt", std::process::id()));
    std::fs::write(&path, "BEGIN\n{\n  @x = nope;\n}\n").unwrap();
    let o = run_probe(&[path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(&format!("{}:3:8", path.display())), "{err}");
}

/// Imports: a cycle, an error inside an imported file (shown in that file) and a file that
/// cannot be read, run from the scripts' directory so that paths read as the user wrote
/// them.
#[test]
fn import_errors_name_the_file_they_are_in() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/imports");
    let cases: &[(&str, &[&str])] = &[
        ("import_cycle", &["cycle_a.bt"]),
        ("import_error_in_imported_file", &["bad_import.bt"]),
        (
            "import_missing_file",
            &["-e", "import \"nope.bt\"; BEGIN { exit(); }"],
        ),
    ];
    for (name, args) in cases {
        let mut cmd = probe();
        cmd.current_dir(&dir).args(*args);
        let o = run_with_timeout(cmd, std::time::Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(1), "{name}");
        insta::assert_snapshot!(*name, stderr(&o));
    }
}

/// A probe that keeps seventy integers live at once.
fn stack_too_large() -> String {
    let assign: Vec<String> = (0..70).map(|i| format!("$v{i} = nsecs;")).collect();
    let sum: Vec<String> = (0..70).map(|i| format!("$v{i}")).collect();
    format!("BEGIN {{ {} @x = {}; }}", assign.join(" "), sum.join(" + "))
}

/// `--help-builtins` lists every builtin of the standard library, from their definitions.
#[test]
fn help_lists_every_builtin() {
    let o = run_probe(&["--help-builtins"]);
    assert!(o.status.success());
    let help = stdout(&o);
    let names = probe_stdlib::VARIABLES
        .iter()
        .map(|v| v.name)
        .chain(probe_stdlib::FUNCTIONS.iter().map(|f| f.name))
        .chain(probe_stdlib::AGGREGATIONS.iter().map(|a| a.name))
        .chain(probe_stdlib::EXPANSIONS.iter().map(|e| e.name))
        .chain(probe_stdlib::MACROS.iter().map(|m| m.name));
    for name in names {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(name) || l.contains(&format!("= {name}("))),
            "{name} is missing from:\n{help}"
        );
    }
    insta::assert_snapshot!(help);
}

/// `-f` takes `text` or `json`.
#[test]
fn an_unknown_output_format_is_an_error() {
    let o = run_probe(&["-f", "yaml", "-e", "BEGIN { exit(); }"]);
    assert_eq!(o.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&o));
}
