//! Rules by the metric they watch: one lookup per metric of a report, hashed cheaply. The keys
//! are the configuration's own metric names, so a fast non-keyed hash is safe here: a report's
//! names are only looked up, never inserted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

/// For each metric name, the positions in `order` of the rules (indices into the config's list)
/// that watch it, in the config's order.
#[derive(Debug, Default)]
pub(crate) struct ByMetric {
    map: HashMap<String, (usize, usize), BuildHasherDefault<Fx>>,
    order: Vec<usize>,
}

impl ByMetric {
    /// From each rule's metric, in the config's order.
    pub(crate) fn new<'a>(metrics: impl Iterator<Item = &'a str>) -> ByMetric {
        let mut lists: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, m) in metrics.enumerate() {
            match lists.iter_mut().find(|(name, _)| *name == m) {
                Some((_, rules)) => rules.push(i),
                None => lists.push((m, vec![i])),
            }
        }
        let mut by = ByMetric::default();
        for (name, rules) in lists {
            let start = by.order.len();
            by.order.extend(rules);
            by.map.insert(name.to_string(), (start, by.order.len()));
        }
        by
    }

    /// Positions (for `rule`) of the rules watching `metric`; owned, so the caller may change
    /// the engine while it walks them.
    pub(crate) fn get(&self, metric: &str) -> Range<usize> {
        self.map.get(metric).map_or(0..0, |&(a, b)| a..b)
    }

    pub(crate) fn rule(&self, position: usize) -> usize {
        self.order[position]
    }
}

/// The Fx hash (as in rustc): a multiply and a rotate per word.
#[derive(Default)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_by_metric_in_config_order() {
        let by = ByMetric::new(["temp", "disk", "temp"].into_iter());
        let temp: Vec<usize> = by.get("temp").map(|k| by.rule(k)).collect();
        assert_eq!(temp, vec![0, 2]);
        assert_eq!(
            by.get("disk").map(|k| by.rule(k)).collect::<Vec<_>>(),
            vec![1]
        );
        assert!(by.get("battery").is_empty());
    }
}
