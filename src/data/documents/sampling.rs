//! Label inventories and stratified subsampling.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::Document;

/// How many documents carry each label (unlabelled documents are not counted).
pub fn label_counts(docs: &[Document]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for label in docs.iter().filter_map(|doc| doc.label.as_ref()) {
        *counts.entry(label.clone()).or_insert(0) += 1;
    }
    counts
}

/// Picks `n` documents keeping the class proportions, and returns their indices in ascending
/// order. Each class gets its share of `n` (largest remainders round up), and at least one
/// document when `n` allows one per class. Unlabelled documents form a class of their own.
/// The same `docs`, `n` and `seed` always give the same indices; `n >= docs.len()` gives all.
pub fn stratified_subsample(docs: &[Document], n: usize, seed: u64) -> Vec<usize> {
    if n >= docs.len() {
        return (0..docs.len()).collect();
    }
    let mut classes: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (index, doc) in docs.iter().enumerate() {
        classes.entry(doc.label.as_deref()).or_default().push(index);
    }
    let sizes: Vec<usize> = classes.values().map(Vec::len).collect();
    let quotas = class_quotas(&sizes, n);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut chosen = Vec::with_capacity(n);
    for (mut members, quota) in classes.into_values().zip(quotas) {
        members.shuffle(&mut rng);
        chosen.extend_from_slice(&members[..quota]);
    }
    chosen.sort_unstable();
    chosen
}

/// Splits `n` (less than the sum of `sizes`) in proportion to `sizes`: floors first, then the
/// largest remainders (earlier classes win ties); then every class with members but no share
/// takes one from the class with the largest share, while `n` allows one per class.
fn class_quotas(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let mut quotas: Vec<usize> = sizes.iter().map(|&size| size * n / total).collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(sizes[i] * n % total));
    let missing = n - quotas.iter().sum::<usize>();
    for &i in by_remainder.iter().take(missing) {
        quotas[i] += 1;
    }
    if n >= sizes.len() {
        for i in 0..sizes.len() {
            if quotas[i] == 0 && sizes[i] > 0 {
                if let Some(donor) = (0..sizes.len())
                    .filter(|&j| quotas[j] > 1)
                    .max_by_key(|&j| (quotas[j], usize::MAX - j))
                {
                    quotas[donor] -= 1;
                    quotas[i] += 1;
                }
            }
        }
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(labels: &[(&str, usize)]) -> Vec<Document> {
        labels
            .iter()
            .flat_map(|&(label, count)| (0..count).map(move |i| (label, i)))
            .map(|(label, i)| Document {
                id: format!("{label}{i}"),
                text: "x".into(),
                label: Some(label.into()),
                ..Document::default()
            })
            .collect()
    }

    #[test]
    fn counts_labels_and_skips_unlabelled() {
        let mut all = docs(&[("a", 3), ("b", 1)]);
        all.push(Document {
            id: "u".into(),
            text: "x".into(),
            ..Document::default()
        });
        let counts = label_counts(&all);
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            vec![("a".to_string(), 3), ("b".to_string(), 1)]
        );
    }

    #[test]
    fn keeps_proportions_and_is_deterministic() {
        let all = docs(&[("a", 600), ("b", 300), ("c", 100)]);
        let picked = stratified_subsample(&all, 100, 7);
        assert_eq!(picked.len(), 100);
        assert!(
            picked.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        let chosen: Vec<Document> = picked.iter().map(|&i| all[i].clone()).collect();
        let counts = label_counts(&chosen);
        assert_eq!((counts["a"], counts["b"], counts["c"]), (60, 30, 10));
        assert_eq!(picked, stratified_subsample(&all, 100, 7));
        assert_ne!(picked, stratified_subsample(&all, 100, 8));
    }

    #[test]
    fn every_class_gets_one_when_possible() {
        let all = docs(&[("big", 97), ("r1", 2), ("r2", 1)]);
        let picked = stratified_subsample(&all, 5, 1);
        let chosen: Vec<Document> = picked.iter().map(|&i| all[i].clone()).collect();
        let counts = label_counts(&chosen);
        assert_eq!((counts["big"], counts["r1"], counts["r2"]), (3, 1, 1));
    }

    #[test]
    fn asking_for_more_than_there_is_gives_everything() {
        let all = docs(&[("a", 2), ("b", 2)]);
        assert_eq!(stratified_subsample(&all, 10, 0), vec![0, 1, 2, 3]);
        assert!(stratified_subsample(&all, 0, 0).is_empty());
    }

    #[test]
    fn quotas_sum_to_n() {
        for n in 0..50 {
            let quotas = class_quotas(&[13, 7, 29, 1], n);
            assert_eq!(quotas.iter().sum::<usize>(), n, "n = {n}: {quotas:?}");
            assert!(quotas.iter().zip([13, 7, 29, 1]).all(|(q, s)| *q <= s));
        }
    }
}
