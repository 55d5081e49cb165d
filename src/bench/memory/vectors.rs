//! Synthetic vectors for benchmarks and index tests.
//!
//! Sentence embeddings are not spread evenly over the sphere: they lie near
//! a low-dimensional subspace (topics), so a query has a few clear nearest
//! neighbours. Uniformly random high-dimensional vectors have none (every
//! point is about equally far from every other), which makes an
//! approximate index look both slow and wrong. [`VectorKind::Structured`]
//! imitates embeddings; [`VectorKind::Uniform`] is the adversarial case.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Dimension of the latent space structured vectors are drawn from.
pub const LATENT_DIMENSION: usize = 32;

/// Noise variance per coordinate, as a share of the signal's variance.
pub const NOISE_SHARE: f32 = 0.1;

/// How synthetic vectors are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VectorKind {
    /// A Gaussian point in a [`LATENT_DIMENSION`]-d latent space mapped
    /// through a fixed random matrix, plus isotropic noise
    /// ([`NOISE_SHARE`] of the signal's variance), normalised.
    #[default]
    Structured,
    /// Uniform in the cube, normalised: no neighbour structure at all.
    Uniform,
}

impl std::str::FromStr for VectorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "structured" => Ok(Self::Structured),
            "uniform" => Ok(Self::Uniform),
            other => Err(format!(
                "unknown vector kind {other:?}: expected structured or uniform"
            )),
        }
    }
}

impl std::fmt::Display for VectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Structured => "structured",
            Self::Uniform => "uniform",
        })
    }
}

/// A deterministic stream of unit vectors of one kind.
pub struct SyntheticVectors {
    kind: VectorKind,
    dimension: usize,
    /// `LATENT_DIMENSION × dimension`, row-major (structured only).
    mixing: Vec<f32>,
    rng: StdRng,
}

impl SyntheticVectors {
    /// Vectors of `dimension` components; the same `seed` gives the same
    /// stream.
    pub fn new(kind: VectorKind, dimension: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mixing = match kind {
            VectorKind::Structured => (0..LATENT_DIMENSION * dimension)
                .map(|_| gaussian(&mut rng))
                .collect(),
            VectorKind::Uniform => Vec::new(),
        };
        Self {
            kind,
            dimension,
            mixing,
            rng,
        }
    }

    /// The next vector (unit length).
    pub fn next_vector(&mut self) -> Vec<f32> {
        let mut v = match self.kind {
            VectorKind::Uniform => (0..self.dimension)
                .map(|_| self.rng.random_range(-1.0f32..1.0))
                .collect(),
            VectorKind::Structured => self.structured(),
        };
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    fn structured(&mut self) -> Vec<f32> {
        let latent: Vec<f32> = (0..LATENT_DIMENSION)
            .map(|_| gaussian(&mut self.rng))
            .collect();
        // Each coordinate of `latent · mixing` has variance LATENT_DIMENSION.
        let noise = (LATENT_DIMENSION as f32 * NOISE_SHARE).sqrt();
        let mut v = vec![0.0f32; self.dimension];
        for (z, row) in latent.iter().zip(self.mixing.chunks_exact(self.dimension)) {
            v.iter_mut().zip(row).for_each(|(x, w)| *x += z * w);
        }
        v.iter_mut()
            .for_each(|x| *x += noise * gaussian(&mut self.rng));
        v
    }
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f32 {
    let u: f32 = rng.random_range(f32::MIN_POSITIVE..1.0);
    let v: f32 = rng.random_range(0.0f32..1.0);
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Mean of the best cosine between each of 50 queries and 2000 points.
    fn mean_best_cosine(kind: VectorKind) -> f32 {
        let mut stream = SyntheticVectors::new(kind, 384, 1);
        let points: Vec<Vec<f32>> = (0..2000).map(|_| stream.next_vector()).collect();
        let total: f32 = (0..50)
            .map(|_| {
                let q = stream.next_vector();
                points
                    .iter()
                    .map(|p| cosine(&q, p))
                    .fold(f32::MIN, f32::max)
            })
            .sum();
        total / 50.0
    }

    #[test]
    fn vectors_are_unit_length_and_reproducible() {
        for kind in [VectorKind::Structured, VectorKind::Uniform] {
            let a: Vec<Vec<f32>> = {
                let mut g = SyntheticVectors::new(kind, 384, 9);
                (0..5).map(|_| g.next_vector()).collect()
            };
            let mut g = SyntheticVectors::new(kind, 384, 9);
            for v in &a {
                assert_eq!(v.len(), 384);
                assert!((cosine(v, v) - 1.0).abs() < 1e-4, "{kind}: unit length");
                assert_eq!(&g.next_vector(), v, "{kind}: same seed, same stream");
            }
        }
    }

    #[test]
    fn structured_vectors_have_near_neighbours_and_uniform_ones_do_not() {
        let structured = mean_best_cosine(VectorKind::Structured);
        let uniform = mean_best_cosine(VectorKind::Uniform);
        assert!(structured > 0.5, "structured best cosine {structured}");
        assert!(uniform < 0.3, "uniform best cosine {uniform}");
    }

    #[test]
    fn kinds_parse_and_print() {
        for kind in [VectorKind::Structured, VectorKind::Uniform] {
            assert_eq!(kind.to_string().parse::<VectorKind>(), Ok(kind));
        }
        assert!(
            "gaussian"
                .parse::<VectorKind>()
                .unwrap_err()
                .contains("gaussian")
        );
    }
}
