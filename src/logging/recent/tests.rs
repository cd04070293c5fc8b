use std::io::Write as _;

use super::*;

fn ring(max_bytes: usize, max_lines: usize, max_line_bytes: usize) -> RecentLogs {
    RecentLogs::new(Limits {
        max_bytes,
        max_lines,
        max_line_bytes,
    })
}

fn lines(logs: &RecentLogs) -> Vec<String> {
    logs.snapshot()
        .lines
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn an_empty_ring_has_nothing_and_dropped_nothing() {
    let logs = RecentLogs::default();
    assert_eq!(logs.snapshot(), Snapshot::default());
    assert_eq!(logs.limits(), Limits::default());
}

#[test]
fn lines_come_back_oldest_first_without_their_newline() {
    let logs = ring(1000, 10, 100);
    for l in ["one\n", "two", "three\n"] {
        logs.push(l);
    }
    assert_eq!(lines(&logs), ["one", "two", "three"]);
    assert_eq!(logs.snapshot().dropped, 0);
}

#[test]
fn the_line_bound_drops_the_oldest_lines() {
    let logs = ring(1000, 3, 100);
    for i in 0..5 {
        logs.push(&format!("line {i}"));
    }
    assert_eq!(lines(&logs), ["line 2", "line 3", "line 4"]);
    assert_eq!(logs.snapshot().dropped, 2);
}

#[test]
fn the_byte_bound_drops_the_oldest_lines() {
    // Ten bytes a line, 25 bytes in all: two lines fit, the third pushes out the first.
    let logs = ring(25, 100, 100);
    for c in ['a', 'b', 'c', 'd'] {
        logs.push(&c.to_string().repeat(10));
    }
    assert_eq!(lines(&logs), ["c".repeat(10), "d".repeat(10)]);
    assert_eq!(logs.snapshot().dropped, 2);
    let kept: usize = logs.snapshot().lines.iter().map(|l| l.len()).sum();
    assert!(kept <= 25);
    // One longer line than all the others together still fits, alone.
    logs.push(&"e".repeat(25));
    assert_eq!(lines(&logs), ["e".repeat(25)]);
    assert_eq!(logs.snapshot().dropped, 4);
}

#[test]
fn long_lines_are_cut_on_a_character_boundary_and_marked() {
    let logs = ring(10_000, 10, 20);
    logs.push(&"x".repeat(20));
    // "é" is two bytes: a cut at an odd byte would split one.
    logs.push(&"é".repeat(30));
    let got = lines(&logs);
    assert_eq!(got[0], "x".repeat(20), "a line at the cap is kept whole");
    assert!(got[1].ends_with(CUT_MARK), "{:?}", got[1]);
    assert!(got[1].len() <= 20, "{} bytes", got[1].len());
    let kept = got[1].strip_suffix(CUT_MARK).unwrap();
    assert!(
        !kept.is_empty() && kept.chars().all(|c| c == 'é'),
        "{kept:?}"
    );
    // A cap smaller than the mark cuts without one.
    let tiny = ring(10_000, 10, 3);
    tiny.push("éé");
    assert_eq!(lines(&tiny), ["é"]);
}

#[test]
fn the_line_cap_never_exceeds_the_byte_bound() {
    let logs = ring(16, 10, 1000);
    logs.push(&"z".repeat(100));
    let got = lines(&logs);
    assert_eq!(got.len(), 1);
    assert!(got[0].len() <= 16 && got[0].ends_with(CUT_MARK), "{got:?}");
}

#[test]
fn a_writer_pushes_one_line_when_dropped() {
    let logs = ring(1000, 10, 100);
    {
        let mut w = logs.make_writer();
        write!(w, "part one, ").unwrap();
        writeln!(w, "part two").unwrap();
        assert!(logs.snapshot().lines.is_empty(), "pushed before the drop");
    }
    drop(logs.make_writer());
    assert_eq!(
        lines(&logs),
        ["part one, part two"],
        "an empty writer pushes nothing"
    );
}

#[test]
fn a_writer_keeps_only_what_a_line_may_hold() {
    let logs = ring(100_000, 10, 50);
    {
        let mut w = logs.make_writer();
        for _ in 0..1000 {
            w.write_all("ü".repeat(10).as_bytes()).unwrap();
        }
        assert!(w.buf.len() <= 54, "{} bytes buffered", w.buf.len());
    }
    let got = lines(&logs);
    assert!(got[0].len() <= 50 && got[0].ends_with(CUT_MARK), "{got:?}");
    assert!(!got[0].contains('\u{fffd}'), "a split character: {got:?}");
}

#[test]
fn a_tracing_subscriber_writes_its_events_into_the_ring() {
    let logs = ring(100_000, 100, 1000);
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(answer = 42, "first event");
        tracing::warn!("second event");
    });
    let got = lines(&logs);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].contains("INFO") && got[0].contains("first event answer=42"));
    assert!(got[1].contains("WARN") && got[1].contains("second event"));
    assert!(got.iter().all(|l| !l.contains('\n')));
}
