//! Parser tests: syntax trees and syntax errors as the user sees them.

use probe_lang::ast::*;
use probe_lang::{diagnostic, parse};

fn ast(src: &str) -> Program {
    parse(src).unwrap_or_else(|e| panic!("{}", diagnostic::render(&e, "script.bt", src)))
}

fn error(src: &str) -> String {
    match parse(src) {
        Ok(p) => panic!("parsed: {p:#?}"),
        Err(e) => diagnostic::render(&e, "script.bt", src),
    }
}

#[test]
fn syntax_trees() {
    let cases: &[(&str, &str)] = &[
        ("one_liner", "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }"),
        ("angle_block", "kprobe:vfs_read < @[comm] = count(); >"),
        ("angle_block_with_comparison", "t:syscalls:sys_enter_read < if (pid > 1) { @x = count(); } >"),
        ("angle_block_last_gt_closes", "BEGIN < @x = pid > 1 >"),
        ("predicate", "tracepoint:syscalls:sys_enter_read /pid == 42/ { @ = count(); }"),
        ("shebang_and_comments", "#!/usr/bin/env probe\n// a comment\nBEGIN /* inline */ { exit(); } // trailing\n"),
        ("several_attach_points", "tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write { @[comm] = count(); }"),
        ("interval_printf_exit", "interval:s:1 { printf(\"%d %s\\n\", pid, comm); exit(); }"),
        ("if_else_chain", "BEGIN { if (pid == 1) { @a = 1; } else if pid == 2 { @b = 2; } else { @c = 3; } }"),
        ("precedence", "BEGIN { @x = 1 + 2 * 3 << 1 == 4 && !5 || ~6 ? 7 : 8; }"),
        ("map_two_keys", "BEGIN { @m[pid, comm] = count(); $v = @m2[1]; }"),
        ("loops_and_compound_assignments", "BEGIN { while ($i < 10) { $i++; if ($i == 3) { continue; } @x += $i; --@y; break; } return; }"),
        ("let_forms", "BEGIN { let $a; let $b = 1; let $c: uint32 = 2; { let $d = true; } }"),
        ("literal_forms", "BEGIN { @x = 0777 + 1_000 + 1ms + 2e3 + 10ul + false; @s = \"\\x41\\101\"; }"),
        ("include_line", "#include <linux/sched.h>\nBEGIN { exit(); }"),
        ("casts_and_unroll", "BEGIN { $x = (uint8)300 + (int32)-(int64)$y; unroll(3) { $x++; } }"),
        ("positional_parameters", "BEGIN { printf(\"%s %d\\n\", str($1), $2 + $#); }"),
        ("tracepoint_args", "t:syscalls:sys_enter_kill /args->pid == 1/ { @[args.sig] = count(); }"),
        ("tuples", "BEGIN { $t = (1, \"a\", (2, 3)); @x = $t.2.1 + $t.0; }"),
        ("map_declarations", "let @a = hash(10);\nBEGIN { @a[1] = 1; }\nlet @b = percpulruhash(5);"),
        ("for_over_map_and_structs", "BEGIN { for ($kv : @m) { @x = ((struct task_struct *)curtask)->pid + offsetof(struct task_struct, se.load) + sizeof(struct file); } }"),
        ("block_expression", "BEGIN { $x = 1 + { let $y = 2; $y } * 3; { $z = 1 } }"),
        ("macros", "macro add($a, $b) { $a + $b }\nmacro inc(@m) { @m++ }\nBEGIN { @x = add(1, 2); inc(@y); }"),
        ("config_block", "config = { max_strlen = 128; stack_mode = perf }\nBEGIN { exit(); }"),
        ("pointers", "BEGIN { $p = (uint8 *)$a; @x = *($p + 1) * *(uint32 *)$b; }"),
        ("empty_program", ""),
        ("empty_block", "BEGIN {}"),
        ("variables_and_strings", "BEGIN { $s = \"a\\tb\\n\\\"q\\\"\\\\\"; $n = 0x1f - -3; }"),
    ];
    for (name, src) in cases {
        insta::assert_snapshot!(format!("ast_{name}"), format!("{src}\n\n{:#?}", ast(src)));
    }
}

/// Drops spans so that two spellings can be compared.
fn shape(p: &Program) -> String {
    let text = format!("{p:#?}");
    let mut out = String::new();
    let mut skip = 0;
    for line in text.lines() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if line.trim_start().starts_with("span: Span {") {
            skip = 2;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn brace_and_angle_blocks_parse_the_same() {
    let pairs = [
        (
            "kprobe:vfs_read { @[comm] = count(); }",
            "kprobe:vfs_read < @[comm] = count(); >",
        ),
        (
            "t:a:b { if (pid > 1) { @x = count(); } }",
            "t:a:b < if (pid > 1) { @x = count(); } >",
        ),
        ("BEGIN { @x = pid > 1 }", "BEGIN < @x = pid > 1 >"),
        ("BEGIN /pid > 2/ { @x = 1; }", "BEGIN /pid > 2/ < @x = 1; >"),
        ("BEGIN { } END { exit(); }", "BEGIN < > END < exit(); >"),
        (
            "BEGIN { if (1) { } @x = 1 > 0; }",
            "BEGIN < if (1) { } @x = 1 > 0; >",
        ),
    ];
    for (braces, angles) in pairs {
        assert_eq!(
            shape(&ast(braces)),
            shape(&ast(angles)),
            "{braces} vs {angles}"
        );
    }
}

#[test]
fn spans_cover_their_source() {
    let src = "BEGIN { @x[pid] = 1 + 2; }";
    let p = ast(src);
    let stmt = &p.probes[0].body.stmts[0];
    assert_eq!(&src[stmt.span.range()], "@x[pid] = 1 + 2");
    let StmtKind::AssignMap { map, value } = &stmt.kind else {
        panic!()
    };
    assert_eq!(&src[map.span.range()], "@x[pid]");
    assert_eq!(&src[value.span.range()], "1 + 2");
    assert_eq!(&src[p.probes[0].span.range()], src);
}

#[test]
fn syntax_errors() {
    let cases: &[(&str, &str)] = &[
        ("unterminated_string", "BEGIN { printf(\"hello); }"),
        ("unknown_escape", "BEGIN { printf(\"\\q\"); }"),
        ("stray_close_brace", "BEGIN { exit(); } }"),
        ("missing_close_brace", "BEGIN { exit();"),
        ("unexpected_token_in_expression", "BEGIN { @x = 1 + ; }"),
        ("missing_semicolon", "BEGIN { @x = 1 @y = 2; }"),
        ("unterminated_comment", "BEGIN { /* never closed }"),
        ("unknown_character", "BEGIN { @x = 1 # 2; }"),
        ("backtick", "BEGIN { @x = `1`; }"),
        (
            "integer_out_of_range",
            "BEGIN { @x = 99999999999999999999; }",
        ),
        ("bad_hex", "BEGIN { @x = 0xzz; }"),
        ("missing_attach_point", "{ exit(); }"),
        ("if_without_block", "BEGIN { if (pid) exit(); }"),
        ("trailing_operator", "BEGIN { @x = 1 + }"),
        ("unclosed_paren", "BEGIN { @x = (1 + 2; }"),
        ("brace_closes_angle_block", "BEGIN < exit(); }"),
        ("angle_closes_brace_block", "BEGIN { exit(); >"),
        ("no_block_after_attach_point", "BEGIN exit();"),
        ("no_block_after_predicate", "BEGIN /pid/ exit();"),
        ("else_without_if", "BEGIN { else { } }"),
        ("assignment_to_call", "BEGIN { count() = 1; }"),
        ("missing_map_key", "BEGIN { @x[] = 1; }"),
        ("unclosed_map_key", "BEGIN { @x[1 = 1; }"),
        ("empty_predicate_comment", "BEGIN // { exit(); }"),
        ("lone_close_paren", "BEGIN { ) }"),
        ("assignment_without_value", "BEGIN { @x = ; }"),
        ("trailing_comma_in_key", "BEGIN { @x[1,] = 1; }"),
        ("two_strings_in_a_row", "BEGIN { printf(\"a\" \"b\"); }"),
        ("empty_if_condition", "BEGIN { if () { } }"),
        ("while_without_condition", "BEGIN { while { } }"),
        ("for_without_colon", "BEGIN { for ($i 0..3) { } }"),
        ("for_range_without_end", "BEGIN { for ($i : 0..) { } }"),
        ("unroll_with_variable", "BEGIN { unroll($n) { } }"),
        ("let_without_type_after_colon", "BEGIN { let $x: = 1; }"),
        ("let_without_variable", "BEGIN { let = 1; }"),
        ("cast_without_operand", "BEGIN { @x = (uint8); }"),
        ("ternary_without_colon", "BEGIN { @x = 1 ? 2; }"),
        ("ternary_without_middle", "BEGIN { @x = 1 ? : 2; }"),
        ("trailing_comma_after_attach_point", "BEGIN, { }"),
        ("unterminated_predicate", "BEGIN /pid == 1 { }"),
        ("short_hex_escape", "BEGIN { printf(\"\\x4\"); }"),
        ("hex_escape_without_digits", "BEGIN { printf(\"\\xg\"); }"),
        ("hex_without_digits", "BEGIN { @x = 0x; }"),
        ("bad_integer_suffix", "BEGIN { @x = 5zz; }"),
        ("exponent_without_digits", "BEGIN { @x = 2e; }"),
        ("exponent_overflow", "BEGIN { @x = 1e30; }"),
        ("positional_too_large", "BEGIN { @x = $99999999999; }"),
        ("stray_colon", "BEGIN { : }"),
        ("stray_question_mark", "BEGIN { ? }"),
        ("map_name_after_dot", "BEGIN { @x = $t.@y; }"),
        ("double_else", "BEGIN { if (1) { } else { } else { } }"),
        ("return_two_values", "BEGIN { return 1 2; }"),
        (
            "several_syntax_errors",
            "BEGIN { @x = 1 + ; @y = ) ; @z = 3; exit(); }",
        ),
        (
            "declaration_without_semicolon",
            "let @a = hash(10) BEGIN { }",
        ),
        ("declaration_without_size", "let @a = hash(); BEGIN { }"),
        ("unroll_without_count", "BEGIN { unroll { } }"),
        ("cast_to_unknown_type", "BEGIN { @x = (float)1; }"),
        ("let_with_non_type", "BEGIN { let $x: banana = 1; }"),
    ];
    for (name, src) in cases {
        let rendered = error(src);
        assert!(rendered.contains("script.bt:1:"), "{name}: {rendered}");
        insta::assert_snapshot!(format!("syntax_{name}"), format!("{src}\n\n{rendered}"));
    }
}

#[test]
fn never_panics_on_damaged_input() {
    let good = [
        "tracepoint:syscalls:sys_enter_read /comm == \"dd\"/ { @[comm] = count(); }",
        "t:a:b < if (pid > 1) { @x = count(); } else { printf(\"%d\\n\", pid); } >",
        "#!/x\nBEGIN { $a = 0x10 * (2 + 3); @m[1, \"a\"] = $a ? -1 : ~2; } // c\n/* d */ END { exit(); }",
    ];
    for src in good {
        for cut in 0..=src.len() {
            if src.is_char_boundary(cut) {
                let _ = parse(&src[..cut]);
                let _ = parse(&src[cut..]);
            }
        }
        for (i, _) in src.char_indices() {
            let mut s = src.to_string();
            s.remove(i);
            let _ = parse(&s);
        }
    }
}
