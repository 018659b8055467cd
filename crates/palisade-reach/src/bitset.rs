//! A fixed-size set of small integers (endpoint or segment indices).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub fn new(len: usize) -> BitSet {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub fn full(len: usize) -> BitSet {
        let mut b = BitSet::new(len);
        for i in 0..len {
            b.insert(i);
        }
        b
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn union_with(&mut self, other: &BitSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_iterate() {
        let mut b = BitSet::new(130);
        for i in [0, 63, 64, 129] {
            b.insert(i);
        }
        assert!(b.contains(63) && !b.contains(62) && !b.contains(500));
        assert_eq!(b.iter().collect::<Vec<_>>(), [0, 63, 64, 129]);
        let mut c = BitSet::new(130);
        c.insert(1);
        c.union_with(&b);
        assert_eq!(c.iter().count(), 5);
        assert_eq!(BitSet::full(70).iter().count(), 70);
    }
}
