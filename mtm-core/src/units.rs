//! Values written for people in a table or a listing: sizes. One function, so that the
//! command line and every binding show a size the same way.

/// A size in bytes as a table shows it: `0 B`, `1023 B`, `1.5 KiB`, `5.0 GiB` (powers of
/// 1024, one decimal from KiB on, TiB the largest unit). The notification emails word sizes
/// for their readers instead (`1.5 KB`, `12 MB`).
///
/// ```
/// assert_eq!(mtm_core::format_bytes(1536), "1.5 KiB");
/// ```
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    // Precision lost above 2^53 bytes does not show in one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn tebibytes_are_the_largest_unit() {
        assert_eq!(format_bytes(3 << 40), "3.0 TiB");
        assert_eq!(format_bytes(2048 << 40), "2048.0 TiB");
        assert_eq!(format_bytes(u64::MAX), "16777216.0 TiB");
    }
}
