//! Grouping sets for the first stage of a two-stage statement.
//!
//! Aggregating to the finest combination of every slice's labels makes the first stage's hash
//! table as large as the product of the slices' cardinalities: ten slices can turn a few thousand
//! groups into hundreds of thousands, and the cost of the scan then grows with the number of
//! combinations rather than with the data. The slices are therefore packed into a few grouping
//! sets of at most [`BUDGET`] estimated label combinations each; every set also carries the keys
//! all states share (segment, period, entity), and each state is rolled up from the one set that
//! holds its slice. A request whose slices fit the budget keeps a single set (a plain
//! `GROUP BY`).

/// The estimated number of distinct values of a wildcard slice's column, which is not known
/// when planning.
pub(super) const COLUMN_ESTIMATE: u64 = 16;

/// At most this many estimated slice-label combinations per grouping set.
pub(super) const BUDGET: u64 = 1 << 15;

/// One grouping set under construction: its keys and their estimated combinations.
struct Set<K> {
    keys: Vec<K>,
    combinations: u64,
}

impl<K: Clone + PartialEq> Set<K> {
    fn new() -> Set<K> {
        Set {
            keys: Vec::new(),
            combinations: 1,
        }
    }

    /// The factor by which adding `keys` multiplies the set's combinations.
    fn growth(&self, keys: &[(K, u64)]) -> u64 {
        keys.iter()
            .filter(|(key, _)| !self.keys.contains(key))
            .fold(1, |n, (_, estimate)| n.saturating_mul(*estimate))
    }

    fn add(&mut self, keys: &[(K, u64)]) {
        for (key, estimate) in keys {
            if !self.keys.contains(key) {
                self.keys.push(key.clone());
                self.combinations = self.combinations.saturating_mul(*estimate);
            }
        }
    }
}

/// Packs slices, each given as its label keys with their estimated numbers of distinct values,
/// into grouping sets, returned as lists of keys.
///
/// Slices are placed in order; each joins the set it grows least (a set that already holds all
/// its keys does not grow), as long as that set stays within [`BUDGET`], and otherwise starts a
/// new set. Every slice's keys end up together in at least one set.
pub(super) fn pack<K: Clone + PartialEq>(slices: &[Vec<(K, u64)>]) -> Vec<Vec<K>> {
    let mut sets: Vec<Set<K>> = Vec::new();
    for keys in slices {
        let best = sets
            .iter()
            .enumerate()
            .map(|(i, set)| (set.growth(keys), i))
            .filter(|&(grow, i)| sets[i].combinations.saturating_mul(grow) <= BUDGET)
            .min();
        match best {
            Some((_, i)) => sets[i].add(keys),
            None => {
                let mut set = Set::new();
                set.add(keys);
                sets.push(set);
            }
        }
    }
    sets.into_iter().map(|s| s.keys).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(keys: &[(&str, u64)]) -> Vec<(String, u64)> {
        keys.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    /// Slices (a cross product among them) with 5 * 4 * 4 * 16 * 16 = 20,480 combinations.
    fn within_budget() -> Vec<Vec<(String, u64)>> {
        vec![
            slice(&[("a", 5)]),
            slice(&[("b", 4)]),
            slice(&[("c", 4)]),
            slice(&[("d", 16)]),
            slice(&[("a", 5), ("e", 16)]),
        ]
    }

    #[test]
    fn slices_within_the_budget_share_one_set() {
        let mut slices = within_budget();
        slices.push(slice(&[("e", 16)]));
        assert_eq!(pack(&slices), vec![vec!["a", "b", "c", "d", "e"]]);
    }

    #[test]
    fn slices_beyond_the_budget_start_new_sets_and_cross_products_stay_together() {
        let mut slices = within_budget();
        slices.extend([
            // 20,480 * 16 > 32,768: a second set.
            slice(&[("f", 16)]),
            // Grows the second set least (16 * 16 = 256).
            slice(&[("g", 16)]),
            slice(&[("h", 4)]),
            // Both keys are already in the first set, which does not grow.
            slice(&[("e", 16), ("d", 16)]),
            // Neither set can take i and j (100 * 100 more) within the budget: a third set.
            slice(&[("a", 5), ("i", 100), ("j", 100)]),
        ]);
        assert_eq!(
            pack(&slices),
            vec![
                vec!["a", "b", "c", "d", "e"],
                vec!["f", "g", "h"],
                vec!["a", "i", "j"],
            ]
        );
    }

    #[test]
    fn a_slice_larger_than_the_budget_gets_a_set_of_its_own() {
        let sets = pack(&[
            slice(&[("a", 4)]),
            slice(&[("b", 1_000), ("c", 1_000)]),
            slice(&[("d", 4)]),
        ]);
        assert_eq!(sets, vec![vec!["a", "d"], vec!["b", "c"]]);
    }
}
