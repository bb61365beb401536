//! Setting values that more than one backend reads: durations and byte counts.

use std::time::Duration;

/// A number of bytes: `1000000000`, or with a unit (`10GB`, `500MB`, `1TB`, `2GiB`).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("`{text}` is not a number of bytes; write `1000000000`, `10GB` or `1TiB`")
        })
}

/// A duration: a number of seconds (`10`, `2.5`), or a number with a unit (`500ms`, `30s`,
/// `5min`, `1h`, `2d`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if seconds.is_finite() && n > 0.0 && (n * seconds) < 1e9 => {
            Ok(Duration::from_secs_f64(n * seconds))
        }
        _ => Err(format!(
            "`{text}` is not a duration; write seconds (`10`) or a number with ms, s, min, h or d (`500ms`, `5min`, `2d`)"
        )),
    }
}

/// A TCP port, 1 to 65535.
pub(crate) fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{text}` is not a port number (1-65535)"))
}

/// The host and the port (when written) of a URL's `host:port`, an IPv6 host written
/// `[address]`.
pub(crate) fn split_host_port(address: &str) -> Result<(&str, Option<&str>), String> {
    Ok(match address.strip_prefix('[') {
        Some(bracketed) => {
            let (host, rest) = bracketed
                .split_once(']')
                .ok_or("an IPv6 host must be written `[address]`")?;
            (host, rest.strip_prefix(':'))
        }
        None => match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_byte_counts() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5min"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5 days").is_err());
        assert_eq!(parse_bytes("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("18446744073709551615TB").is_err());
    }
}
