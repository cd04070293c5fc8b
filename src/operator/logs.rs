//! The status page's log download (`/logs`): a short `#` header (version, build, time, how
//! many lines, whether older lines were dropped), then the recent lines oldest first, and the
//! file name to save it under.
//!
//! Must not know how the lines were collected (that is [`crate::logging::recent`]) nor HTTP.

use time::{macros::format_description, OffsetDateTime};

use crate::logging::recent::{Limits, Snapshot};

/// The name of the downloaded file: `scim-bridge-<UTC yyyymmddThhmmssZ>.log`.
pub fn file_name(now: OffsetDateTime) -> String {
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .expect("a UTC date formats with numeric components only");
    format!("scim-bridge-{stamp}.log")
}

/// The file's text: the header, then one line per kept log line.
pub fn render(snapshot: &Snapshot, limits: Limits, now: OffsetDateTime) -> String {
    let size: usize = snapshot.lines.iter().map(|l| l.len() + 1).sum();
    let utc = now.to_offset(time::UtcOffset::UTC);
    let mut out = String::with_capacity(size + 512);
    out.push_str(&format!(
        "# scim-bridge {} (build {}): recent log lines, oldest first\n",
        env!("CARGO_PKG_VERSION"),
        super::BUILD
    ));
    out.push_str(&format!(
        "# written {}; {} line(s)\n",
        super::rfc3339(utc.replace_nanosecond(0).unwrap_or(utc)),
        snapshot.lines.len()
    ));
    if snapshot.dropped > 0 {
        out.push_str(&format!(
            "# {} older line(s) were dropped: the bridge keeps at most {} lines or {} KiB\n",
            snapshot.dropped,
            limits.max_lines,
            limits.max_bytes / 1024
        ));
    }
    out.push_str("# no tokens, no SCIM attribute values; lines are lost on restart\n");
    for line in &snapshot.lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_file_name_is_the_utc_time() {
        assert_eq!(
            file_name(datetime!(2024-03-05 07:08:09 +02:00)),
            "scim-bridge-20240305T050809Z.log"
        );
    }

    #[test]
    fn the_header_counts_lines_and_says_when_older_ones_were_dropped() {
        let now = datetime!(2024-03-05 07:08:09.123456 UTC);
        let lines: Vec<Arc<str>> = vec!["first".into(), "second".into()];
        let text = render(
            &Snapshot {
                lines: lines.clone(),
                dropped: 0,
            },
            Limits::default(),
            now,
        );
        let (header, body): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
        assert!(header[0].contains(env!("CARGO_PKG_VERSION")), "{text}");
        assert!(header[1].contains("2024-03-05T07:08:09Z") && header[1].contains("2 line(s)"));
        assert!(!text.contains("dropped"), "{text}");
        assert_eq!(body, ["first", "second"]);
        assert!(text.ends_with("second\n"));

        let text = render(&Snapshot { lines, dropped: 7 }, Limits::default(), now);
        assert!(
            text.contains(
                "# 7 older line(s) were dropped: the bridge keeps at most 5000 lines or 1024 KiB"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_empty_ring_is_a_header_only() {
        let text = render(
            &Snapshot::default(),
            Limits::default(),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
        assert!(text.contains("0 line(s)"));
    }
}
