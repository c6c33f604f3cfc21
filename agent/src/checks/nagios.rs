//! The Nagios plugin convention: exit 0/1/2/3 = OK/WARN/CRIT/UNKNOWN, the first line of output is
//! the message, and performance data after `|` (`'label'=value[UOM];warn;crit;min;max ...`)
//! becomes metrics. Existing plugins work unchanged.

use heartline_proto::wire::Metric;

/// Splits plugin output into its message and its performance data.
pub fn parse_output(output: &str, check: &str) -> (String, Vec<Metric>) {
    let mut lines = output.lines();
    let first = lines.next().unwrap_or("").trim();
    let (message, mut perf) = match first.split_once('|') {
        Some((m, p)) => (m.trim().to_string(), p.trim().to_string()),
        None => (first.to_string(), String::new()),
    };
    // Long output: later lines may carry more performance data after a `|`.
    for line in lines {
        if let Some((_, p)) = line.split_once('|') {
            perf.push(' ');
            perf.push_str(p.trim());
        }
    }
    (message, parse_perfdata(&perf, check))
}

/// Parses `label=value[UOM];...` items; labels may be quoted with `'` and contain spaces.
/// Malformed items are skipped: a plugin's typo must not lose the check result.
pub fn parse_perfdata(perf: &str, check: &str) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut rest = perf.trim();
    while !rest.is_empty() {
        let (label, after) = if let Some(quoted) = rest.strip_prefix('\'') {
            match quoted.split_once("'=") {
                Some((l, a)) => (l.replace("''", "'"), a),
                None => break,
            }
        } else {
            match rest.split_once('=') {
                Some((l, a)) => (l.trim().to_string(), a),
                None => break,
            }
        };
        let (item, next) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
        rest = next.trim_start();
        let value_uom = item.split(';').next().unwrap_or("");
        let split = value_uom
            .find(|c: char| {
                !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
            })
            .unwrap_or(value_uom.len());
        let (num, uom) = value_uom.split_at(split);
        if let Ok(value) = num.parse::<f64>() {
            out.push(Metric {
                name: format!("{check}.{label}"),
                value,
                unit: uom.to_string(),
                instance: String::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (plugin output, message, metrics as (name, value, unit))
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, f64, &'a str)]);

    #[test]
    fn plugin_output_table() {
        let cases: &[Case] = &[
            (
                "DISK OK - free space: / 3326 MB",
                "DISK OK - free space: / 3326 MB",
                &[],
            ),
            (
                "OK - load average: 0.52 | load1=0.520;5;10;0; load5=0.4;4;6;0;",
                "OK - load average: 0.52",
                &[("c.load1", 0.52, ""), ("c.load5", 0.4, "")],
            ),
            (
                "DISK WARNING | '/ used'=80%;70;90 'inodes'=12 time=0.2s",
                "DISK WARNING",
                &[
                    ("c./ used", 80.0, "%"),
                    ("c.inodes", 12.0, ""),
                    ("c.time", 0.2, "s"),
                ],
            ),
            (
                "PING OK | rta=1.5ms;100;500 pl=U;20;60 junk",
                "PING OK",
                &[("c.rta", 1.5, "ms")],
            ),
            (
                "RAID OK\nall 4 disks healthy | disks=4",
                "RAID OK",
                &[("c.disks", 4.0, "")],
            ),
            ("", "", &[]),
        ];
        for (output, message, metrics) in cases {
            let (m, perf) = parse_output(output, "c");
            assert_eq!(m, *message, "{output:?}");
            let got: Vec<(&str, f64, &str)> = perf
                .iter()
                .map(|p| (p.name.as_str(), p.value, p.unit.as_str()))
                .collect();
            assert_eq!(got, *metrics, "{output:?}");
        }
    }
}
